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
