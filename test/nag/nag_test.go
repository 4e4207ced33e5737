// Package nag runs cdk-nag's AwsSolutions checks over the WsgateStack. It
// is its own module because cdk-nag-go needs a constructs version the
// library's CDK version cannot compile with.
package nag

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	wsgate "github.com/wsgate/wsgate/constructs"
)

func TestAwsSolutionsChecks(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	s := wsgate.NewRealtimeStack(app, jsii.String(wsgate.StackName), &wsgate.RealtimeStackProps{
		// As app.go builds it: the demo server named as any app names its
		// own main package (this module is nested, so SourceDir is given).
		Service: &wsgate.RealtimeServiceProps{
			ApiOptions:    wsgate.ApiOptions{ConfigureAccountCloudWatchRole: jsii.Bool(true)},
			SourceDir:     jsii.String("../.."),
			ServerPackage: jsii.String(wsgate.DemoServerPackage),
		},
	})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	annotations := assertions.Annotations_FromStack(s)
	errs := annotations.FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
	for _, e := range *errs {
		t.Errorf("%s: %v", *e.Id, e.Entry.Data)
	}
	warns := annotations.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*")))
	for _, w := range *warns {
		t.Errorf("warning %s: %v", *w.Id, w.Entry.Data)
	}
	checkSuppressionReasons(t, s)
}

// TestAwsSolutionsChecksWithAuthorizerAndDomain checks the production
// options: a Lambda authorizer on $connect (whose route then carries no
// APIG4 suppression), a custom domain with its record, and alarms sending
// to a topic.
func TestAwsSolutionsChecksWithAuthorizerAndDomain(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	s := awscdk.NewStack(app, jsii.String("Production"), nil)
	zone := awsroute53.HostedZone_FromHostedZoneAttributes(s, jsii.String("Zone"), &awsroute53.HostedZoneAttributes{
		HostedZoneId: jsii.String("Z0123456789ABCDEFGHIJ"), ZoneName: jsii.String("example.com"),
	})
	wsgate.NewRealtimeService(s, jsii.String("Realtime"), &wsgate.RealtimeServiceProps{
		ApiOptions: wsgate.ApiOptions{
			ConnectAuthorization: &wsgate.ConnectAuthorization{
				Function: awslambda.Function_FromFunctionArn(s, jsii.String("Authorizer"), jsii.String("arn:aws:lambda:us-east-1:123456789012:function:auth")),
			},
			CustomDomain: &wsgate.CustomDomain{
				DomainName:  jsii.String("realtime.example.com"),
				Certificate: awscertificatemanager.Certificate_FromCertificateArn(s, jsii.String("Cert"), jsii.String("arn:aws:acm:us-east-1:123456789012:certificate/0b0e4d0e-1111-2222-3333-444455556666")),
				HostedZone:  zone,
			},
		},
		Image: awsecs.ContainerImage_FromRegistry(jsii.String("public.ecr.aws/example/wsgate-server:1.0.0"), nil),
		Monitoring: &wsgate.MonitoringOptions{
			AlarmTopic: awssns.Topic_FromTopicArn(s, jsii.String("Oncall"), jsii.String("arn:aws:sns:us-east-1:123456789012:oncall")),
		},
	})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	annotations := assertions.Annotations_FromStack(s)
	for _, e := range *annotations.FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))) {
		t.Errorf("%s: %v", *e.Id, e.Entry.Data)
	}
	for _, w := range *annotations.FindWarning(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String("AwsSolutions-.*"))) {
		t.Errorf("warning %s: %v", *w.Id, w.Entry.Data)
	}
	checkSuppressionReasons(t, s)
}

// checkSuppressionReasons requires every suppression in the template to
// name a rule and give a reason of at least a sentence.
func checkSuppressionReasons(t *testing.T, stack awscdk.Stack) {
	t.Helper()
	tpl := assertions.Template_FromStack(stack, nil).ToJSON()
	b, _ := json.Marshal((*tpl)["Resources"])
	var resources map[string]struct {
		Metadata struct {
			CdkNag struct {
				Rules []struct {
					ID        string `json:"id"`
					Reason    string `json:"reason"`
					AppliesTo []any  `json:"applies_to"`
				} `json:"rules_to_suppress"`
			} `json:"cdk_nag"`
		}
	}
	if err := json.Unmarshal(b, &resources); err != nil {
		t.Fatal(err)
	}
	count := 0
	for id, r := range resources {
		for _, rule := range r.Metadata.CdkNag.Rules {
			count++
			if rule.ID == "" || len(strings.Fields(rule.Reason)) < 8 {
				t.Errorf("%s: suppression %q has no real reason: %q", id, rule.ID, rule.Reason)
			}
			// A validation failure means a rule could not evaluate the
			// resource; suppressing every one of them hides real findings.
			if rule.ID == "CdkNagValidationFailure" && len(rule.AppliesTo) == 0 {
				t.Errorf("%s: a CdkNagValidationFailure suppression without applies_to hides every validation failure", id)
			}
		}
	}
	if count == 0 {
		t.Error("no suppressions found; the library's own suppressions are missing")
	}
}
