// Package wsconn turns a WebSocket into a byte stream (a net.Conn) for the
// v2 multiplexer.
//
// Each WebSocket binary message carries a run of stream bytes; message
// boundaries mean nothing to the reader. Writes are coalesced: everything
// written while the previous message was on the wire goes out as the next
// single message, so the multiplexer's small header and body writes cost one
// WebSocket frame and one system call together instead of one each.
package wsconn
