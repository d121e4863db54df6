package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/wsp-tunnel/wsp/internal/rules"
)

// Errors a request can end with before the agent answered. Callers branch on
// them with errors.Is; statusOf maps each to an HTTP status.
var (
	// ErrNoDestination: the request lacks X-PROXY-DESTINATION.
	ErrNoDestination = errors.New("missing X-PROXY-DESTINATION header")
	// ErrNoAgent: no agent was connected within the wait.
	ErrNoAgent = errors.New("no agent connected")
	// ErrAgentsBusy: agents are connected but none had a free connection or
	// stream within the wait.
	ErrAgentsBusy = errors.New("no agent connection free")
	// ErrAgentLost: the connection to the agent broke during the request.
	ErrAgentLost = errors.New("connection to the agent lost")
	// ErrAgentDraining: the chosen agent is shutting down.
	ErrAgentDraining = errors.New("agent is shutting down")
	// ErrShuttingDown: this server is shutting down.
	ErrShuttingDown = errors.New("server is shutting down")
)

// legacyStatus is the status v1 servers used for all of their own errors.
const legacyStatus = 526

// statusOf is the one place that maps an error to an HTTP status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrNoDestination), errors.Is(err, rules.ErrBadDestination):
		return http.StatusBadRequest
	case errors.Is(err, rules.ErrForbidden), errors.Is(err, rules.ErrNotAllowed):
		return http.StatusForbidden
	case errors.Is(err, ErrNoAgent), errors.Is(err, ErrAgentsBusy),
		errors.Is(err, ErrAgentDraining), errors.Is(err, ErrShuttingDown):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	default:
		return http.StatusBadGateway
	}
}

// errorCode is the short machine-readable reason sent in X-Wsp-Error.
func errorCode(err error) string {
	switch {
	case errors.Is(err, ErrNoDestination), errors.Is(err, rules.ErrBadDestination):
		return "bad-destination"
	case errors.Is(err, rules.ErrForbidden), errors.Is(err, rules.ErrNotAllowed):
		return "denied"
	case errors.Is(err, ErrNoAgent):
		return "no-agent"
	case errors.Is(err, ErrAgentsBusy), errors.Is(err, ErrAgentDraining):
		return "agent-busy"
	case errors.Is(err, ErrShuttingDown):
		return "shutting-down"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	default:
		return "agent-lost"
	}
}

// writeError answers the application with err. In legacy mode every status
// becomes v1's 526.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The application hung up: nobody is left to answer.
		s.log.Debug("request cancelled by the application", "url", r.URL.String())
		return
	}
	status := statusOf(err)
	s.log.Info("request failed", "status", status, "err", err)
	if s.cfg.LegacyStatus {
		status = legacyStatus
	}
	h := w.Header()
	h.Set("X-Wsp-Error", errorCode(err))
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", strconv.Itoa(1))
	}
	http.Error(w, errorText(err), status)
}

func errorText(err error) string {
	return fmt.Sprintf("wsp: %v", err)
}

// drain discards what is left of a request body so that the application's
// connection stays usable after an early answer. It reads at most limit bytes.
func drain(body io.ReadCloser, limit int64) {
	if body == nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(body, limit))
}
