package io.legate.tracing;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.ReadableSpan;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import io.netty.handler.codec.http2.Http2Headers;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * One tracing provider ({@code envoy.tracers.opentelemetry}, {@code envoy.tracers.zipkin}, …) at run
 * time: an OpenTelemetry SDK tracer whose finished spans a {@link BatchSpanProcessor} batches and
 * hands to the provider's {@link SpanExporter} on its own thread, never on a worker; and the
 * provider's conventions: which propagation format it reads first and writes, how it names the
 * ingress span, whether it shares the caller's span (Zipkin's {@code shared_span_context}).
 *
 * <p>Thread-safe; shared by every stream of every worker. The sampling decision is made before a
 * span is started here, so the SDK samples everything it is given.
 */
public final class TracerDriver {
  /** How often batched spans are exported (Envoy flushes every 5 s or every 5 spans). */
  static final Duration FLUSH_INTERVAL = Duration.ofSeconds(1);

  /** What distinguishes one provider's spans and headers. */
  public enum Style {
    /**
     * OpenTelemetry: spans named {@code ingress}; {@code traceparent} read first (then B3) and
     * written.
     */
    OPENTELEMETRY,
    /**
     * Zipkin: spans named after the request's host; B3 read first (then {@code traceparent}), B3
     * multi headers written.
     */
    ZIPKIN
  }

  private final Style style;
  private final boolean sharedSpanContext;
  private final SdkTracerProvider provider;
  private final Tracer tracer;
  private final PresetIdGenerator ids;

  /**
   * Creates a driver exporting through {@code exporter}.
   *
   * @param serviceName the {@code service.name} of the spans' resource
   * @param sharedSpanContext whether the ingress span reuses a B3 caller's span id (Zipkin)
   * @param traceId128 whether new traces get 128-bit ids (else 64-bit, upper half zero)
   */
  public TracerDriver(
      Style style, SpanExporter exporter, String serviceName, boolean sharedSpanContext, boolean traceId128) {
    this.style = style;
    this.sharedSpanContext = sharedSpanContext;
    Resource resource =
        Resource.create(Attributes.of(AttributeKey.stringKey("service.name"), serviceName));
    this.provider =
        SdkTracerProvider.builder()
            .setResource(resource)
            .setSampler(Sampler.alwaysOn())
            .setIdGenerator(new PresetIdGenerator(traceId128))
            .addSpanProcessor(
                BatchSpanProcessor.builder(exporter).setScheduleDelay(FLUSH_INTERVAL).build())
            .build();
    this.tracer = provider.get("legate");
    this.ids = new PresetIdGenerator(traceId128);
  }

  /** Returns the provider's conventions. */
  public Style style() {
    return style;
  }

  boolean b3First() {
    return style == Style.ZIPKIN;
  }

  /**
   * Starts the ingress (SERVER) span of a traced request, child of the incoming context if any.
   *
   * @param name the span name (the caller chose it from the style and the decorator header)
   * @param startEpochNanos the request's start, nanoseconds since the epoch
   */
  Span startIngress(Http2Headers h, String name, long startEpochNanos) {
    SpanContext parent = Propagation.extract(h, b3First());
    Context parentContext = Context.root();
    if (parent.isValid()) {
      if (sharedSpanContext && style == Style.ZIPKIN && parent.isRemote() && hasB3Context(h)) {
        // Zipkin's shared span context: the server side of the caller's span keeps its id.
        String grandParent = Propagation.b3ParentSpanId(h);
        PresetIdGenerator.preset(parent.getTraceId(), parent.getSpanId());
        if (grandParent != null) {
          parentContext =
              Context.root()
                  .with(
                      Span.wrap(
                          SpanContext.createFromRemoteParent(
                              parent.getTraceId(), grandParent, TraceFlags.getSampled(), TraceState.getDefault())));
        }
      } else {
        parentContext = Context.root().with(Span.wrap(parent));
      }
    }
    try {
      return tracer
          .spanBuilder(name)
          .setParent(parentContext)
          .setSpanKind(SpanKind.SERVER)
          .setStartTimestamp(startEpochNanos, TimeUnit.NANOSECONDS)
          .startSpan();
    } finally {
      PresetIdGenerator.clear();
    }
  }

  /**
   * Returns the context of the ingress span of a request that is not sampled: no span is recorded or
   * exported, but as Envoy's tracers do, the request still carries a trace to the upstream: the
   * incoming trace (its id and {@code tracestate}) continued with a new span id, or a new trace,
   * with the sampled flag off. Returns the context and, for B3, the parent span id to write.
   */
  Unsampled unsampledIngress(Http2Headers h) {
    SpanContext parent = Propagation.extract(h, b3First());
    if (!parent.isValid()) {
      return new Unsampled(
          SpanContext.create(ids.generateTraceId(), ids.generateSpanId(), TraceFlags.getDefault(), TraceState.getDefault()),
          null);
    }
    if (sharedSpanContext && style == Style.ZIPKIN && hasB3Context(h)) {
      return new Unsampled(
          SpanContext.create(parent.getTraceId(), parent.getSpanId(), TraceFlags.getDefault(), parent.getTraceState()),
          Propagation.b3ParentSpanId(h));
    }
    return new Unsampled(
        SpanContext.create(parent.getTraceId(), ids.generateSpanId(), TraceFlags.getDefault(), parent.getTraceState()),
        parent.getSpanId());
  }

  /** Returns a new span id (an unsampled request's upstream span). */
  String newSpanId() {
    return ids.generateSpanId();
  }

  /** An unsampled span's context and its parent span id (null for a root). */
  record Unsampled(SpanContext context, String parentSpanId) {}

  private static boolean hasB3Context(Http2Headers h) {
    return (h.contains(Propagation.B3) && h.get(Propagation.B3).length() > 1)
        || h.contains(Propagation.X_B3_SPAN_ID);
  }

  /** Starts a CLIENT span, child of {@code parent} (the router's upstream span). */
  Span startChild(Span parent, String name, long startEpochNanos) {
    return tracer
        .spanBuilder(name)
        .setParent(Context.root().with(parent))
        .setSpanKind(SpanKind.CLIENT)
        .setStartTimestamp(startEpochNanos, TimeUnit.NANOSECONDS)
        .startSpan();
  }

  /** Writes {@code span}'s context into upstream request headers in the provider's format. */
  void inject(Span span, Http2Headers h) {
    String parentId = null;
    if (style == Style.ZIPKIN && span instanceof ReadableSpan rs && rs.getParentSpanContext().isValid()) {
      parentId = rs.getParentSpanContext().getSpanId();
    }
    inject(span.getSpanContext(), parentId, h);
  }

  /**
   * Writes a span context into upstream request headers in the provider's format ({@code
   * parentSpanId}, possibly null, only for B3).
   */
  void inject(SpanContext ctx, String parentSpanId, Http2Headers h) {
    if (style == Style.ZIPKIN) {
      Propagation.injectB3(ctx, parentSpanId, h);
    } else {
      Propagation.injectW3c(ctx, h);
    }
  }

  /** Exports what is batched and waits up to {@code timeoutMs} for it (tests, shutdown). */
  public boolean flush(long timeoutMs) {
    return provider.forceFlush().join(timeoutMs, TimeUnit.MILLISECONDS).isSuccess();
  }

  /** Exports what is batched and stops the export thread. */
  public void shutdown() {
    provider.shutdown().join(5, TimeUnit.SECONDS);
  }
}
