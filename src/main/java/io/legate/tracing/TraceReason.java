package io.legate.tracing;

/**
 * Why a request is traced, as Envoy's {@code Tracing::Reason}; the reason travels in the request's
 * {@code x-request-id} (the UUID's 15th character), so every hop of a chain decides alike.
 */
public enum TraceReason {
  /** Not traced: no reason applies, or {@code overall_sampling} vetoed it. */
  NOT_TRACEABLE('4'),
  /** Picked by {@code random_sampling} from the request id. */
  SAMPLING('a'),
  /** Forced by {@code x-envoy-force-trace}. */
  SERVICE_FORCED('9'),
  /** Asked for by the client's {@code x-client-trace-id}, within {@code client_sampling}. */
  CLIENT_FORCED('b');

  /** The character at {@link #POSITION} of a UUID request id that carries this reason. */
  final char mark;

  /** Where in a 36-character UUID the reason is packed (Envoy's UUIDRequestIDExtension). */
  static final int POSITION = 14;

  TraceReason(char mark) {
    this.mark = mark;
  }

  /** Returns the reason packed in a request id; {@link #NOT_TRACEABLE} unless it is a 36-char UUID. */
  static TraceReason of(CharSequence requestId) {
    if (requestId == null || requestId.length() != 36) {
      return NOT_TRACEABLE;
    }
    return switch (requestId.charAt(POSITION)) {
      case '9' -> SERVICE_FORCED;
      case 'a' -> SAMPLING;
      case 'b' -> CLIENT_FORCED;
      default -> NOT_TRACEABLE;
    };
  }
}
