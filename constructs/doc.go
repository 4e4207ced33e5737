// Package constructs is wsgate's AWS CDK construct library: it provisions an
// Amazon API Gateway WebSocket API that speaks dotNetify's integration
// contract, and optionally the wsgate integration server on ECS Fargate,
// wired to the API through a VPC link and an internal Network Load Balancer.
//
// Import it under the name wsgate:
//
//	import wsgate "github.com/wsgate/wsgate/constructs"
//
// Three entry points, from small to large:
//
//   - [NewWebSocketApi]: the WebSocket API and its stage in front of a
//     backend you run yourself (an existing .NET dotNetify server, or any
//     server implementing POST /api/dotnetify/vm and
//     POST /api/dotnetify/vm/disconnect), reached over the internet or
//     privately through a VPC link.
//   - [NewRealtimeService]: the API plus the wsgate server on Fargate, the
//     task role allowed to call this stage's @connections API only. The
//     image is built from your own main package
//     ([RealtimeServiceProps].ServerPackage) with the library's Dockerfile.
//   - [NewRealtimeStack]: a stack holding one RealtimeService and outputs
//     for its WebSocket and callback URLs (what `cdk deploy` creates for
//     this repository).
//
// Props are validated when the construct is created: every problem is
// collected and reported in one panic (which fails `cdk synth`) naming the
// construct path, the bad value, the allowed values and the fix.
//
// Construct ids of the children are part of the public contract: changing
// one replaces the resource on the next deployment.
package constructs
