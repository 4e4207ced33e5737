package constructs_test

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/jsii-runtime-go"

	wsgate "github.com/wsgate/wsgate/constructs"
)

const certificateArn = "arn:aws:acm:us-east-1:123456789012:certificate/0b0e4d0e-1111-2222-3333-444455556666"

func domainProps(stack awscdk.Stack, name string, zone string) *wsgate.CustomDomain {
	d := &wsgate.CustomDomain{
		DomainName:  jsii.String(name),
		Certificate: awscertificatemanager.Certificate_FromCertificateArn(stack, jsii.String("Cert"), jsii.String(certificateArn)),
	}
	if zone != "" {
		d.HostedZone = awsroute53.HostedZone_FromHostedZoneAttributes(stack, jsii.String("Zone"), &awsroute53.HostedZoneAttributes{
			HostedZoneId: jsii.String("Z0123456789ABCDEFGHIJ"), ZoneName: jsii.String(zone),
		})
	}
	return d
}

func TestCustomDomainOnTheStack(t *testing.T) {
	// The stack builds its own service, so the certificate and zone come
	// from another stack of the app.
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	holder := awscdk.NewStack(app, jsii.String("Certs"), nil)
	cert := awscertificatemanager.Certificate_FromCertificateArn(holder, jsii.String("Cert"), jsii.String(certificateArn))
	zone := awsroute53.HostedZone_FromHostedZoneAttributes(holder, jsii.String("Zone"), &awsroute53.HostedZoneAttributes{
		HostedZoneId: jsii.String("Z0123456789ABCDEFGHIJ"), ZoneName: jsii.String("example.com"),
	})
	rs := wsgate.NewRealtimeStack(app, jsii.String("Test"), &wsgate.RealtimeStackProps{Service: &wsgate.RealtimeServiceProps{
		Image: imageOf(),
		ApiOptions: wsgate.ApiOptions{CustomDomain: &wsgate.CustomDomain{
			DomainName: jsii.String("realtime.example.com"), Certificate: cert, HostedZone: zone,
		}},
	}})
	if got := *rs.WebSocketUrl(); got != "wss://realtime.example.com" {
		t.Errorf("WebSocketUrl() = %q", got)
	}
	tpl := assertions.Template_FromStack(rs.Stack, nil)
	assert(t, "domain URL output", func() {
		tpl.HasOutput(jsii.String("WebSocketUrl"), map[string]any{"Value": "wss://realtime.example.com"})
	})
	api := rs.Realtime.Api
	apiID := *rs.GetLogicalId(api.Api.Node().DefaultChild().(awscdk.CfnElement))
	domainID := *rs.GetLogicalId(api.DomainName.Node().DefaultChild().(awscdk.CfnElement))
	stageID := *rs.GetLogicalId(api.Stage.Node().DefaultChild().(awscdk.CfnElement))

	domain := props(only(t, tpl, "AWS::ApiGatewayV2::DomainName"))
	check := func(what string, got any, want string) {
		t.Helper()
		b, _ := json.Marshal(got)
		if string(b) != want {
			t.Errorf("%s:\n got  %s\n want %s", what, b, want)
		}
	}
	check("domain", domain, `{"DomainName":"realtime.example.com","DomainNameConfigurations":[{"CertificateArn":"`+certificateArn+`","EndpointType":"REGIONAL","SecurityPolicy":"TLS_1_2"}]}`)
	mapping := only(t, tpl, "AWS::ApiGatewayV2::ApiMapping")
	check("mapping", props(mapping), `{"ApiId":{"Ref":"`+apiID+`"},"DomainName":{"Ref":"`+domainID+`"},"Stage":"prod"}`)
	deps, _ := json.Marshal(mapping["DependsOn"])
	if !json.Valid(deps) || !containsString(mapping["DependsOn"], stageID) {
		t.Errorf("mapping DependsOn = %s, want the stage %s", deps, stageID)
	}
	record := props(only(t, tpl, "AWS::Route53::RecordSet"))
	check("record", record, `{"AliasTarget":{"DNSName":{"Fn::GetAtt":["`+domainID+`","RegionalDomainName"]},"HostedZoneId":{"Fn::GetAtt":["`+domainID+`","RegionalHostedZoneId"]}},"HostedZoneId":"Z0123456789ABCDEFGHIJ","Name":"realtime.example.com.","Type":"A"}`)
}

func containsString(list any, s string) bool {
	l, _ := list.([]any)
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

func TestCustomDomainWithoutZone(t *testing.T) {
	stack := newStack(t)
	api := wsgate.NewWebSocketApi(stack, jsii.String("Realtime"), &wsgate.WebSocketApiProps{
		BackendUrl: jsii.String(backend),
		ApiOptions: wsgate.ApiOptions{CustomDomain: domainProps(stack, "ws.example.org", "")},
	})
	tpl := assertions.Template_FromStack(stack, nil)
	assert(t, "domain and mapping without a record", func() {
		tpl.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::DomainName"), jsii.Number(1))
		tpl.ResourceCountIs(jsii.String("AWS::ApiGatewayV2::ApiMapping"), jsii.Number(1))
		tpl.ResourceCountIs(jsii.String("AWS::Route53::RecordSet"), jsii.Number(0))
	})
	if *api.WebSocketUrl() != "wss://ws.example.org" || api.DomainRecord != nil {
		t.Errorf("WebSocketUrl() = %q, DomainRecord = %v", *api.WebSocketUrl(), api.DomainRecord)
	}
}

func TestCustomDomainValidation(t *testing.T) {
	const head = "wsgate: invalid WebSocketApi props at Test/Realtime (1 problem):\n  - "
	cases := []struct {
		name string
		d    *wsgate.CustomDomain
		want string
	}{
		{"no certificate", &wsgate.CustomDomain{DomainName: jsii.String("realtime.example.com")},
			head + `CustomDomain.Certificate: got nothing; allowed: an ACM certificate for the domain in the stack's region; fix: set Certificate (awscertificatemanager.NewCertificate with DNS validation, or Certificate_FromCertificateArn)`},
		{"no name", &wsgate.CustomDomain{Certificate: domainProps(newStack(t), "x.example.com", "").Certificate},
			head + `CustomDomain.DomainName: got nothing; allowed: a fully qualified host name such as "realtime.example.com"; fix: set DomainName, or remove CustomDomain to use the execute-api URL`},
		{"url instead of host", domainProps(newStack(t), "wss://realtime.example.com/prod", ""),
			head + `CustomDomain.DomainName: got "wss://realtime.example.com/prod"; allowed: a fully qualified host name of at most 253 characters, without scheme, path, port or wildcard; fix: give the host clients connect to, such as "realtime.example.com"`},
		{"zone of another domain", domainProps(newStack(t), "realtime.example.com", "example.org"),
			head + `CustomDomain.HostedZone: got "example.org" for "realtime.example.com"; allowed: the zone that holds DomainName; fix: give the zone of the domain's parent, or leave HostedZone unset and create the record yourself`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := apiError(t, &wsgate.WebSocketApiProps{BackendUrl: jsii.String(backend), ApiOptions: wsgate.ApiOptions{CustomDomain: c.d}})
			if got != c.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}
