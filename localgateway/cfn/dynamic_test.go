package cfn

import (
	"reflect"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/internal/stacktemplate"
)

// secretTemplate is an API whose integration sends a secret the way the
// wsgate constructs render it: a quoted static value holding a dynamic
// reference assembled by Fn::Join around the secret's Ref.
const secretTemplate = `{"Resources":{
 "Shared":{"Type":"AWS::SecretsManager::Secret","Properties":{"GenerateSecretString":{"PasswordLength":48}}},
 "Api":{"Type":"AWS::ApiGatewayV2::Api","Properties":{"Name":"a","ProtocolType":"WEBSOCKET","RouteSelectionExpression":"$request.body.action"}},
 "Integ":{"Type":"AWS::ApiGatewayV2::Integration","Properties":{"ApiId":{"Ref":"Api"},"IntegrationType":"HTTP","IntegrationMethod":"POST","IntegrationUri":"http://nlb/api",
  "RequestParameters":{"integration.request.header.X-Wsgate-Secret":{"Fn::Join":["",["'{{resolve:secretsmanager:",{"Ref":"Shared"},":SecretString:::}}'"]]},
   "integration.request.header.X-Json":"'{{resolve:secretsmanager:arn:aws:secretsmanager:us-east-1:000000000000:secret:app-AbCdEf:SecretString:token::}}'"}}},
 "Route":{"Type":"AWS::ApiGatewayV2::Route","Properties":{"ApiId":{"Ref":"Api"},"RouteKey":"$default","Target":{"Fn::Join":["",["integrations/",{"Ref":"Integ"}]]}}}
}}`

func TestDynamicReferencesResolveFromSecrets(t *testing.T) {
	apis, err := Parse([]byte(secretTemplate), Options{Secrets: map[string]string{
		"Shared": "s3cret",
		"arn:aws:secretsmanager:us-east-1:000000000000:secret:app-AbCdEf": `{"token":"t0k"}`,
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := apis[0].Routes["$default"].Integration.RequestParameters
	want := map[string]string{"integration.request.header.X-Wsgate-Secret": "'s3cret'", "integration.request.header.X-Json": "'t0k'"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("request parameters = %v, want %v", got, want)
	}
}

func TestUnresolvableDynamicReferencesFailTheLoad(t *testing.T) {
	arnSecret := map[string]string{"arn:aws:secretsmanager:us-east-1:000000000000:secret:app-AbCdEf": `{"token":"t0k"}`}
	cases := []struct {
		name    string
		secrets map[string]string
		want    string
	}{
		{"no value", arnSecret,
			"resource Integ: dynamic reference {{resolve:secretsmanager:Shared:SecretString:::}}: no value for secret Shared; give the gateway one (wsgate gateway --secret Shared=VALUE)"},
		{"json key missing", map[string]string{"Shared": "x", "arn:aws:secretsmanager:us-east-1:000000000000:secret:app-AbCdEf": `{"other":1}`},
			`resource Integ: dynamic reference {{resolve:secretsmanager:arn:aws:secretsmanager:us-east-1:000000000000:secret:app-AbCdEf:SecretString:token::}}: the value of secret arn:aws:secretsmanager:us-east-1:000000000000:secret:app-AbCdEf has no key "token"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(secretTemplate), Options{Secrets: c.secrets})
			if err == nil || err.Error() != c.want {
				t.Fatalf("error = %v\nwant    %s", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("the error is not one line: %q", err)
			}
		})
	}
	ssm := strings.Replace(secretTemplate, "{{resolve:secretsmanager:arn", "{{resolve:ssm:arn", 1)
	if _, err := Parse([]byte(ssm), Options{Secrets: map[string]string{"Shared": "x"}}); err == nil || !strings.Contains(err.Error(), "only secretsmanager references can be resolved locally") {
		t.Errorf("ssm reference: %v", err)
	}
}

func TestSecretReferencesOfTheSynthesizedStack(t *testing.T) {
	data := stacktemplate.JSON
	ids, err := SecretReferences(data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || !strings.HasPrefix(ids[0], "RealtimeIntegrationSecret") {
		t.Fatalf("secret references = %v, want the stack's integration secret", ids)
	}
	if _, err := Parse(data, Options{}); err == nil || !strings.Contains(err.Error(), "no value for secret "+ids[0]) {
		t.Errorf("loading without the secret: %v", err)
	}
	secrets, err := SameSecret(data, Options{}, "v")
	if err != nil {
		t.Fatal(err)
	}
	apis, err := Parse(data, Options{Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	for key, r := range apis[0].Routes {
		if got := r.Integration.RequestParameters["integration.request.header.X-Wsgate-Secret"]; got != "'v'" {
			t.Errorf("%s X-Wsgate-Secret = %q, want 'v'", key, got)
		}
	}
}
