// Package v1 implements the legacy wsp v1 wire protocol (root-gg/wsp,
// hgsgtk/wsp) as an isolated transport, so that a wsp server can serve
// legacy v1 agents and a wsp agent can work against legacy v1 servers.
//
// One v1 WebSocket carries one exchange at a time:
//
//	server -> agent  text    RequestHead JSON  {"Method","URL","Header","ContentLength"}
//	server -> agent  binary  request body (one message, empty when there is none)
//	agent  -> server text    ResponseHead JSON {"StatusCode","Header","ContentLength"}
//	agent  -> server binary  response body (one message, streamed)
//
// The first message an agent sends after the upgrade is the greeting
// "<id>_<idlesize>" (see ParseGreeting).
//
// The package has three layers:
//   - the codec (RequestHead, ResponseHead, the greeting): small, validating,
//     fuzzed, byte-identical to the legacy JSON;
//   - the server role (ServerPool, ServerConn): ServerConn.RoundTrip turns an
//     outgoing *http.Request (as httputil.ReverseProxy hands it to its
//     Transport) into one v1 exchange;
//   - the agent role (RunAgent): keeps a pool of v1 WebSockets to one legacy
//     server and serves each exchange with an http.Handler.
//
// On every connection one goroutine owns the reads (so pings are answered
// and closes seen even when idle) and hands each message to the exchange
// that expects it; a message nobody expects closes the connection.
//
// Decisions where the legacy behaviour was undefined:
//   - the greeting is split at its last "_";
//   - the server takes a response's length from its Content-Length header,
//     else from the head's ContentLength field, and checks the body against
//     it;
//   - an agent answer with nothing written gets ContentLength 0;
//     WriteLegacyError sets the head's ContentLength without a header.
//
// Differences from the legacy implementation, all deliberate:
//   - opcodes are checked (heads are text messages, bodies binary);
//   - a broken, short or over-long body is reported as an error, never as a
//     clean short (or padded) body;
//   - the server does not put X-Proxy-Destination in the request head;
//   - close frames are sent when a connection is closed;
//   - a malformed greeting is an error, not a panic.
package v1
