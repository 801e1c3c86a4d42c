package io.legate.tracing;

import io.legate.http.StreamInfo;
import io.netty.handler.codec.http2.Http2Headers;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;

/**
 * The tracing state of a request that a provider sees but does not sample: nothing is recorded or
 * exported, but each upstream attempt carries the trace on with the sampled flag off ({@code
 * traceparent} flags {@code 00}, {@code x-b3-sampled: 0}), as Envoy's OpenTelemetry and Zipkin
 * tracers do, so that the services behind keep one trace id and the "not sampled" decision.
 */
final class UnsampledActiveSpan extends ActiveSpan {
  private final TracerDriver driver;
  private final TracerDriver.Unsampled ingress;
  private final boolean spawnUpstreamSpan;

  UnsampledActiveSpan(TracerDriver driver, TracerDriver.Unsampled ingress, boolean spawnUpstreamSpan) {
    this.driver = driver;
    this.ingress = ingress;
    this.spawnUpstreamSpan = spawnUpstreamSpan;
  }

  @Override
  public boolean traced() {
    return false;
  }

  @Override
  public UpstreamSpan startUpstream(
      Http2Headers upstreamHeaders, String cluster, String upstreamAddress, boolean http2, int attempt) {
    SpanContext ctx = ingress.context();
    if (!spawnUpstreamSpan) {
      driver.inject(ctx, ingress.parentSpanId(), upstreamHeaders);
      return UpstreamSpan.NOOP;
    }
    SpanContext child = SpanContext.create(ctx.getTraceId(), driver.newSpanId(), TraceFlags.getDefault(), ctx.getTraceState());
    driver.inject(child, ctx.getSpanId(), upstreamHeaders);
    return UpstreamSpan.NOOP;
  }

  @Override
  public void finish(StreamInfo info) {}

  /** Returns the context written upstream when no upstream span is spawned (tests). */
  SpanContext context() {
    return ingress.context();
  }
}
