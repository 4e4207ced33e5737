package constructs

import (
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53targets"
	"github.com/aws/jsii-runtime-go"
)

// CustomDomain serves the stage on a domain of your own: clients connect to
// wss://{DomainName} instead of the execute-api host.
type CustomDomain struct {
	// DomainName is the fully qualified host name, such as
	// "realtime.example.com". Required.
	DomainName *string
	// Certificate is an ACM certificate for DomainName in the stack's
	// region (API Gateway's regional endpoints need one there). Required.
	Certificate awscertificatemanager.ICertificate
	// HostedZone is the Route 53 zone that holds DomainName; an alias A
	// record to the API's regional domain is created in it.
	// Default: no record; point DNS at the domain's regional name yourself.
	HostedZone awsroute53.IHostedZone
}

// hostNamePattern is a fully qualified host name without a wildcard.
var hostNamePattern = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$`)

// checkCustomDomain validates the custom domain props.
func (p *problems) checkCustomDomain(d *CustomDomain) {
	if d == nil {
		return
	}
	if d.DomainName == nil {
		p.add("CustomDomain.DomainName", "nothing", "a fully qualified host name such as \"realtime.example.com\"", "set DomainName, or remove CustomDomain to use the execute-api URL")
	} else if !unresolvedString(d.DomainName) && (len(*d.DomainName) > 253 || !hostNamePattern.MatchString(*d.DomainName)) {
		p.add("CustomDomain.DomainName", quote(d.DomainName), "a fully qualified host name of at most 253 characters, without scheme, path, port or wildcard", `give the host clients connect to, such as "realtime.example.com"`)
	}
	if d.Certificate == nil {
		p.add("CustomDomain.Certificate", "nothing", "an ACM certificate for the domain in the stack's region", "set Certificate (awscertificatemanager.NewCertificate with DNS validation, or Certificate_FromCertificateArn)")
	}
	if z := d.HostedZone; z != nil && d.DomainName != nil && !unresolvedString(d.DomainName) && !unresolvedString(z.ZoneName()) {
		zone := strings.TrimSuffix(strings.ToLower(*z.ZoneName()), ".")
		name := strings.ToLower(*d.DomainName)
		if name != zone && !strings.HasSuffix(name, "."+zone) {
			p.add("CustomDomain.HostedZone", quote(z.ZoneName())+" for "+quote(d.DomainName), "the zone that holds DomainName", "give the zone of the domain's parent, or leave HostedZone unset and create the record yourself")
		}
	}
}

// addCustomDomain creates the domain, maps it to the stage and, with a
// hosted zone, the alias record.
func (w *WebSocketApi) addCustomDomain(d *CustomDomain) {
	if d == nil {
		return
	}
	w.DomainName = awsapigatewayv2.NewDomainName(w, jsii.String("DomainName"), &awsapigatewayv2.DomainNameProps{
		DomainName:     d.DomainName,
		Certificate:    d.Certificate,
		SecurityPolicy: awsapigatewayv2.SecurityPolicy_TLS_1_2,
	})
	// No mapping key: the stage answers at the domain's root, so clients
	// connect to wss://{domain}.
	w.ApiMapping = awsapigatewayv2.NewApiMapping(w, jsii.String("ApiMapping"), &awsapigatewayv2.ApiMappingProps{
		Api:        w.Api,
		DomainName: w.DomainName,
		Stage:      w.Stage,
	})
	// The mapping names the stage by its plain name, which orders nothing.
	w.ApiMapping.Node().AddDependency(w.Stage)
	w.domainUrl = jsii.String("wss://" + *d.DomainName)
	if d.HostedZone == nil {
		return
	}
	w.DomainRecord = awsroute53.NewARecord(w, jsii.String("DomainRecord"), &awsroute53.ARecordProps{
		Zone:       d.HostedZone,
		RecordName: d.DomainName,
		Target: awsroute53.RecordTarget_FromAlias(awsroute53targets.NewApiGatewayv2DomainProperties(
			w.DomainName.RegionalDomainName(), w.DomainName.RegionalHostedZoneId())),
	})
}
