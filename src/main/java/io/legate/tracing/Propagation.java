package io.legate.tracing;

import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.opentelemetry.context.propagation.TextMapSetter;
import io.opentelemetry.extension.trace.propagation.B3Propagator;
import java.util.ArrayList;
import java.util.List;

/**
 * Trace context in request headers: W3C ({@code traceparent}, {@code tracestate}) and B3 (single
 * {@code b3} and multi {@code x-b3-*}). Reading the sampling state ({@link #incomingSampled}) touches
 * no more than a few header lookups and allocates nothing; the full extraction and the injection run
 * only for traced requests.
 */
public final class Propagation {
  public static final AsciiString TRACEPARENT = AsciiString.cached("traceparent");
  public static final AsciiString TRACESTATE = AsciiString.cached("tracestate");
  public static final AsciiString B3 = AsciiString.cached("b3");
  public static final AsciiString X_B3_TRACE_ID = AsciiString.cached("x-b3-traceid");
  public static final AsciiString X_B3_SPAN_ID = AsciiString.cached("x-b3-spanid");
  public static final AsciiString X_B3_PARENT_SPAN_ID = AsciiString.cached("x-b3-parentspanid");
  public static final AsciiString X_B3_SAMPLED = AsciiString.cached("x-b3-sampled");
  public static final AsciiString X_B3_FLAGS = AsciiString.cached("x-b3-flags");

  /** No trace context, or one that leaves the sampling decision to the receiver. */
  public static final int NONE = -1;
  /** The incoming context says: not sampled. */
  public static final int NOT_SAMPLED = 0;
  /** The incoming context says: sampled. */
  public static final int SAMPLED = 1;

  private static final TextMapPropagator W3C = W3CTraceContextPropagator.getInstance();
  private static final TextMapPropagator B3_ANY = B3Propagator.injectingMultiHeaders();
  private static final String ZEROS_16 = "0000000000000000";

  private Propagation() {}

  /**
   * Returns the sampling state of the incoming context: {@link #SAMPLED}, {@link #NOT_SAMPLED} or
   * {@link #NONE}, from the first format present in the preferred order (B3 then W3C when {@code
   * b3First}, else W3C then B3). A malformed {@code traceparent} counts as absent.
   */
  public static int incomingSampled(Http2Headers h, boolean b3First) {
    if (b3First) {
      int s = b3Sampled(h);
      return s != NONE || hasB3(h) ? s : w3cSampled(h);
    }
    int s = w3cSampled(h);
    return s != NONE ? s : b3Sampled(h);
  }

  /** Returns the sampled flag of a well-formed {@code traceparent}, or {@link #NONE}. */
  static int w3cSampled(Http2Headers h) {
    CharSequence tp = h.get(TRACEPARENT);
    if (tp == null || !validTraceparent(tp)) {
      return NONE;
    }
    return (Character.digit(tp.charAt(54), 16) & 1) == 1 ? SAMPLED : NOT_SAMPLED;
  }

  static boolean validTraceparent(CharSequence tp) {
    int n = tp.length();
    if (n < 55 || tp.charAt(2) != '-' || tp.charAt(35) != '-' || tp.charAt(52) != '-') {
      return false;
    }
    boolean v00 = tp.charAt(0) == '0' && tp.charAt(1) == '0';
    if ((v00 && n != 55) || (!v00 && n > 55 && tp.charAt(55) != '-')) {
      return false;
    }
    if (tp.charAt(0) == 'f' && tp.charAt(1) == 'f') {
      return false;
    }
    return lowerHex(tp, 0, 2) && nonZeroHex(tp, 3, 35) && nonZeroHex(tp, 36, 52) && lowerHex(tp, 53, 55);
  }

  private static boolean lowerHex(CharSequence s, int from, int to) {
    for (int i = from; i < to; i++) {
      char c = s.charAt(i);
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
        return false;
      }
    }
    return true;
  }

  private static boolean nonZeroHex(CharSequence s, int from, int to) {
    if (!lowerHex(s, from, to)) {
      return false;
    }
    for (int i = from; i < to; i++) {
      if (s.charAt(i) != '0') {
        return true;
      }
    }
    return false;
  }

  private static boolean hasB3(Http2Headers h) {
    return h.contains(B3) || h.contains(X_B3_TRACE_ID);
  }

  /** Returns the sampling state in B3 headers (single header first), or {@link #NONE}. */
  static int b3Sampled(Http2Headers h) {
    CharSequence single = h.get(B3);
    if (single != null) {
      int n = single.length();
      if (n == 1) {
        return flag(single.charAt(0));
      }
      // {trace}-{span}[-{sampling}[-{parent}]]
      int first = indexOf(single, '-', 0);
      int second = first < 0 ? -1 : indexOf(single, '-', first + 1);
      if (second > 0 && second + 1 < n && (second + 2 == n || single.charAt(second + 2) == '-')) {
        return flag(single.charAt(second + 1));
      }
      return NONE;
    }
    CharSequence flags = h.get(X_B3_FLAGS);
    if (flags != null && flags.length() == 1 && flags.charAt(0) == '1') {
      return SAMPLED;
    }
    CharSequence sampled = h.get(X_B3_SAMPLED);
    if (sampled == null) {
      return NONE;
    }
    if (sampled.length() == 1) {
      return flag(sampled.charAt(0));
    }
    if (AsciiString.contentEqualsIgnoreCase(sampled, "true")) {
      return SAMPLED;
    }
    if (AsciiString.contentEqualsIgnoreCase(sampled, "false")) {
      return NOT_SAMPLED;
    }
    return NONE;
  }

  private static int flag(char c) {
    return switch (c) {
      case '1', 'd' -> SAMPLED;
      case '0' -> NOT_SAMPLED;
      default -> NONE;
    };
  }

  private static int indexOf(CharSequence s, char c, int from) {
    for (int i = from; i < s.length(); i++) {
      if (s.charAt(i) == c) {
        return i;
      }
    }
    return -1;
  }

  /**
   * Returns the incoming parent context (a valid remote {@link SpanContext}), or an invalid one
   * when the headers carry none, reading the formats in the preferred order.
   */
  public static SpanContext extract(Http2Headers h, boolean b3First) {
    SpanContext first = extract(b3First ? B3_ANY : W3C, h);
    if (first.isValid()) {
      return first;
    }
    return extract(b3First ? W3C : B3_ANY, h);
  }

  private static SpanContext extract(TextMapPropagator p, Http2Headers h) {
    return Span.fromContext(p.extract(Context.root(), h, GETTER)).getSpanContext();
  }

  /**
   * Returns the incoming B3 parent span id ({@code x-b3-parentspanid}, or the fourth field of {@code
   * b3}), or null.
   */
  static String b3ParentSpanId(Http2Headers h) {
    CharSequence single = h.get(B3);
    if (single != null) {
      String s = single.toString();
      String[] parts = s.split("-");
      return parts.length == 4 && parts[3].length() == 16 ? parts[3] : null;
    }
    CharSequence p = h.get(X_B3_PARENT_SPAN_ID);
    return p != null && p.length() == 16 ? p.toString() : null;
  }

  /** Writes {@code traceparent} (and {@code tracestate} when the context has one). */
  public static void injectW3c(SpanContext ctx, Http2Headers h) {
    h.remove(TRACESTATE);
    W3C.inject(Context.root().with(Span.wrap(ctx)), h, SETTER);
  }

  /**
   * Writes B3 multi headers as Envoy's Zipkin tracer: {@code x-b3-traceid} (16 hex digits when the
   * trace id has 64 bits), {@code x-b3-spanid}, {@code x-b3-parentspanid} when there is a parent, and
   * {@code x-b3-sampled}. A single {@code b3} header is removed so it cannot contradict them.
   */
  public static void injectB3(SpanContext ctx, String parentSpanId, Http2Headers h) {
    String traceId = ctx.getTraceId();
    if (traceId.startsWith(ZEROS_16)) {
      traceId = traceId.substring(16);
    }
    h.remove(B3);
    h.set(X_B3_TRACE_ID, traceId);
    h.set(X_B3_SPAN_ID, ctx.getSpanId());
    if (parentSpanId != null) {
      h.set(X_B3_PARENT_SPAN_ID, parentSpanId);
    } else {
      h.remove(X_B3_PARENT_SPAN_ID);
    }
    h.set(X_B3_SAMPLED, ctx.isSampled() ? "1" : "0");
  }

  static final TextMapGetter<Http2Headers> GETTER =
      new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(Http2Headers carrier) {
          List<String> names = new ArrayList<>(carrier.size());
          for (var e : carrier) {
            names.add(e.getKey().toString());
          }
          return names;
        }

        @Override
        public String get(Http2Headers carrier, String key) {
          if (carrier == null) {
            return null;
          }
          // HTTP/2 header names are lowercase; the B3 propagator asks for "X-B3-TraceId".
          CharSequence v = carrier.get(AsciiString.of(key).toLowerCase());
          return v == null ? null : v.toString();
        }
      };

  static final TextMapSetter<Http2Headers> SETTER =
      (carrier, key, value) -> {
        if (carrier != null) {
          carrier.set(AsciiString.of(key), value);
        }
      };
}
