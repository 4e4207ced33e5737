package constructs

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// nagSuppression documents why a cdk-nag rule does not apply to a resource
// this library creates.
type nagSuppression struct {
	id     string
	reason string
	// appliesTo narrows the suppression to these findings; an entry starting
	// with "/" is a regular expression literal, as in cdk-nag.
	appliesTo []string
}

// suppressNag records suppressions in the resource's "cdk_nag" metadata,
// the format cdk-nag's NagSuppressions writes. Writing the metadata
// directly keeps cdk-nag out of this module's dependencies (its Go module
// requires a constructs version this CDK version cannot compile with), and
// applying the checks stays the app's decision.
func suppressNag(resource awscdk.CfnResource, suppressions ...nagSuppression) {
	rules := make([]any, 0, len(suppressions))
	existing, _ := resource.GetMetadata(jsii.String("cdk_nag")).(map[string]any)
	if prev, ok := existing["rules_to_suppress"].([]any); ok {
		rules = append(rules, prev...)
	}
	for _, s := range suppressions {
		rule := map[string]any{"id": s.id, "reason": s.reason}
		if len(s.appliesTo) > 0 {
			applies := make([]any, len(s.appliesTo))
			for i, a := range s.appliesTo {
				if len(a) > 0 && a[0] == '/' {
					applies[i] = map[string]any{"regex": a}
				} else {
					applies[i] = a
				}
			}
			rule["applies_to"] = applies
		}
		rules = append(rules, rule)
	}
	resource.AddMetadata(jsii.String("cdk_nag"), map[string]any{"rules_to_suppress": rules})
}
