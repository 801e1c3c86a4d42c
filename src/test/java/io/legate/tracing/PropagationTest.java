package io.legate.tracing;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import org.junit.jupiter.api.Test;

class PropagationTest {
  static final String TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
  static final String SPAN = "00f067aa0ba902b7";

  private static Http2Headers headers(String... kv) {
    Http2Headers h = new DefaultHttp2Headers();
    for (int i = 0; i < kv.length; i += 2) {
      h.set(kv[i], kv[i + 1]);
    }
    return h;
  }

  @Test
  void w3cSamplingState() {
    assertThat(Propagation.incomingSampled(headers("traceparent", "00-" + TRACE + "-" + SPAN + "-01"), false))
        .isEqualTo(Propagation.SAMPLED);
    assertThat(Propagation.incomingSampled(headers("traceparent", "00-" + TRACE + "-" + SPAN + "-00"), false))
        .isEqualTo(Propagation.NOT_SAMPLED);
    assertThat(Propagation.incomingSampled(headers("traceparent", "00-" + TRACE + "-0000000000000000-01"), false))
        .isEqualTo(Propagation.NONE);
    assertThat(Propagation.incomingSampled(headers("traceparent", "00-" + TRACE.toUpperCase() + "-" + SPAN + "-01"), false))
        .isEqualTo(Propagation.NONE);
    assertThat(Propagation.incomingSampled(headers(), false)).isEqualTo(Propagation.NONE);
  }

  @Test
  void b3SamplingState() {
    assertThat(Propagation.incomingSampled(headers("b3", "0"), true)).isEqualTo(Propagation.NOT_SAMPLED);
    assertThat(Propagation.incomingSampled(headers("b3", "d"), true)).isEqualTo(Propagation.SAMPLED);
    assertThat(Propagation.incomingSampled(headers("b3", TRACE + "-" + SPAN + "-1-" + SPAN), true))
        .isEqualTo(Propagation.SAMPLED);
    assertThat(Propagation.incomingSampled(headers("b3", TRACE + "-" + SPAN), true)).isEqualTo(Propagation.NONE);
    assertThat(Propagation.incomingSampled(headers("x-b3-traceid", TRACE, "x-b3-sampled", "true"), true))
        .isEqualTo(Propagation.SAMPLED);
    assertThat(Propagation.incomingSampled(headers("x-b3-traceid", TRACE, "x-b3-flags", "1", "x-b3-sampled", "0"), true))
        .isEqualTo(Propagation.SAMPLED);
    // B3 first: a B3 context without a decision does not fall back to traceparent's flags.
    assertThat(
            Propagation.incomingSampled(
                headers("x-b3-traceid", TRACE, "x-b3-spanid", SPAN, "traceparent", "00-" + TRACE + "-" + SPAN + "-01"),
                true))
        .isEqualTo(Propagation.NONE);
    // W3C first: traceparent decides.
    assertThat(
            Propagation.incomingSampled(
                headers("x-b3-sampled", "1", "traceparent", "00-" + TRACE + "-" + SPAN + "-00"), false))
        .isEqualTo(Propagation.NOT_SAMPLED);
  }

  @Test
  void extractsParentsAndInjectsHeaders() {
    SpanContext w3c = Propagation.extract(headers("traceparent", "00-" + TRACE + "-" + SPAN + "-01"), true);
    assertThat(w3c.getTraceId()).isEqualTo(TRACE);
    assertThat(w3c.getSpanId()).isEqualTo(SPAN);
    SpanContext b3 = Propagation.extract(headers("x-b3-traceid", TRACE, "x-b3-spanid", SPAN, "x-b3-sampled", "1"), false);
    assertThat(b3.getTraceId()).isEqualTo(TRACE);
    assertThat(Propagation.b3ParentSpanId(headers("b3", TRACE + "-" + SPAN + "-1-05e3ac9a4f6e3b90")))
        .isEqualTo("05e3ac9a4f6e3b90");

    SpanContext ctx =
        SpanContext.create("0000000000000000a3ce929d0e0e4736", SPAN, TraceFlags.getSampled(), TraceState.getDefault());
    Http2Headers out = headers("b3", "stale", "x-b3-parentspanid", "stale");
    Propagation.injectB3(ctx, null, out);
    assertThat(out.get("x-b3-traceid").toString()).isEqualTo("a3ce929d0e0e4736");
    assertThat(out.get("x-b3-spanid").toString()).isEqualTo(SPAN);
    assertThat(out.get("x-b3-sampled").toString()).isEqualTo("1");
    assertThat(out.contains("b3")).isFalse();
    assertThat(out.contains("x-b3-parentspanid")).isFalse();

    Http2Headers w = headers("tracestate", "old=1");
    Propagation.injectW3c(SpanContext.create(TRACE, SPAN, TraceFlags.getSampled(), TraceState.getDefault()), w);
    assertThat(w.get("traceparent").toString()).isEqualTo("00-" + TRACE + "-" + SPAN + "-01");
    assertThat(w.contains("tracestate")).isFalse();
  }
}
