package io.legate.tracing;

import io.legate.http.HttpHeaderNames;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Envoy's tracing decision ({@code ConnectionManagerUtility::mutateTracingRequestHeader}): the three
 * sampling percentages in ten-thousandths, applied to a request's headers. The request id's first
 * eight hex digits modulo 10000 are the dice of {@code random_sampling} and {@code overall_sampling},
 * so every proxy in a chain decides alike for one request; the decision is written back into the
 * id's trace-reason character.
 *
 * @param client {@code client_sampling} × 100 (0..10000), for requests with {@code x-client-trace-id}
 * @param random {@code random_sampling} × 100
 * @param overall {@code overall_sampling} × 100, a veto applied after the others
 */
public record Sampling(int client, int random, int overall) {
  static final AsciiString X_CLIENT_TRACE_ID = AsciiString.cached("x-client-trace-id");

  /** Sampling everything: Envoy's defaults (100% each). */
  public static final Sampling ALL = new Sampling(10000, 10000, 10000);

  /**
   * Decides whether the request is traced and packs the reason into its {@code x-request-id}.
   * Allocates nothing unless the id changes. Returns {@link TraceReason#NOT_TRACEABLE} when there is
   * no usable request id (as Envoy).
   */
  public TraceReason decide(Http2Headers h) {
    CharSequence rid = h.get(HttpHeaderNames.X_REQUEST_ID);
    long value = leadingHex(rid);
    if (value < 0) {
      return TraceReason.NOT_TRACEABLE;
    }
    int dice = (int) (value % 10000);
    TraceReason reason = TraceReason.of(rid);
    if (reason == TraceReason.NOT_TRACEABLE) {
      if (h.contains(X_CLIENT_TRACE_ID) && ThreadLocalRandom.current().nextInt(10000) < client) {
        reason = TraceReason.CLIENT_FORCED;
      } else if (h.contains(HttpHeaderNames.X_ENVOY_FORCE_TRACE)) {
        reason = TraceReason.SERVICE_FORCED;
      } else if (dice < random) {
        reason = TraceReason.SAMPLING;
      }
      if (reason != TraceReason.NOT_TRACEABLE) {
        pack(h, rid, reason);
      }
    }
    if (reason != TraceReason.NOT_TRACEABLE && dice >= overall) {
      reason = TraceReason.NOT_TRACEABLE;
      pack(h, rid, reason);
    }
    return reason;
  }

  /** Returns the value of the first eight characters as hex, or -1 when they are not. */
  static long leadingHex(CharSequence s) {
    if (s == null || s.length() < 8) {
      return -1;
    }
    long v = 0;
    for (int i = 0; i < 8; i++) {
      int d = Character.digit(s.charAt(i), 16);
      if (d < 0) {
        return -1;
      }
      v = (v << 4) | d;
    }
    return v;
  }

  private static void pack(Http2Headers h, CharSequence rid, TraceReason reason) {
    if (rid.length() != 36 || rid.charAt(TraceReason.POSITION) == reason.mark) {
      return;
    }
    byte[] b = new byte[36];
    for (int i = 0; i < 36; i++) {
      b[i] = (byte) rid.charAt(i);
    }
    b[TraceReason.POSITION] = (byte) reason.mark;
    h.set(HttpHeaderNames.X_REQUEST_ID, new AsciiString(b, false));
  }
}
