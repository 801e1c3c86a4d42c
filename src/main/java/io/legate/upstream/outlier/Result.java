package io.legate.upstream.outlier;

/**
 * A request outcome that is not an HTTP status, as Envoy's {@code Outlier::Result}: local-origin
 * events (connect failures, timeouts, resets) and external-origin events of non-HTTP protocols.
 */
public enum Result {
  /** A connection to the host was established (the request may still fail). */
  LOCAL_ORIGIN_CONNECT_SUCCESS,
  /** A connection was established and nothing more will be reported for the request. */
  LOCAL_ORIGIN_CONNECT_SUCCESS_FINAL,
  /** The request timed out before a response (counts as a 504 when errors are not split). */
  LOCAL_ORIGIN_TIMEOUT,
  /** Connecting failed or the connection was reset (counts as a 503 when errors are not split). */
  LOCAL_ORIGIN_CONNECT_FAILED,
  /** The host answered with a failure (non-HTTP protocols). */
  EXT_ORIGIN_REQUEST_FAILED,
  /** The host answered successfully (non-HTTP protocols). */
  EXT_ORIGIN_REQUEST_SUCCESS
}
