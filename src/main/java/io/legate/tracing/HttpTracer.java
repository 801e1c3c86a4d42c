package io.legate.tracing;

import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.type.v3.Percent;
import io.legate.config.ConfigException;
import io.legate.extension.FactoryContext;
import io.legate.http.HttpHeaderNames;
import io.legate.http.StreamInfo;
import io.legate.stats.Counter;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * The HTTP connection manager's {@code tracing}, built once from its proto: the sampling
 * percentages, the span options and the provider's driver. {@link #startSpan} runs on every request
 * and returns {@link ActiveSpan#NOOP} without allocating when the request is not traced.
 *
 * <p>A request is traced as in Envoy: the reason packed in its {@code x-request-id}, else {@code
 * x-client-trace-id} within {@code client_sampling}, {@code x-envoy-force-trace}, or {@code
 * random_sampling} on the request id; {@code overall_sampling} can veto. An incoming trace context
 * that carries a sampling decision ({@code traceparent} flags, {@code x-b3-sampled}, {@code b3})
 * overrides it, as Envoy's OpenTelemetry and Zipkin tracers do. Without a provider the decision is
 * still made (stats, request id) but no span is built. A request that is not sampled records no span
 * but still writes a trace context with the sampled flag off into its upstream requests.
 */
public final class HttpTracer {
  static final String INGRESS = "ingress";

  private final Sampling sampling;
  private final int maxPathTagLength;
  private final List<CustomTag> customTags;
  private final boolean spawnUpstreamSpan;
  private final TracerDriver driver;
  private final String nodeId;
  private final String zone;
  private final Counter randomSampling;
  private final Counter serviceForced;
  private final Counter clientEnabled;
  private final Counter notTraceable;

  HttpTracer(
      Sampling sampling,
      int maxPathTagLength,
      List<CustomTag> customTags,
      boolean spawnUpstreamSpan,
      TracerDriver driver,
      String nodeId,
      String zone,
      io.legate.stats.StatsStore.Scope scope) {
    this.sampling = sampling;
    this.maxPathTagLength = maxPathTagLength;
    this.customTags = List.copyOf(customTags);
    this.spawnUpstreamSpan = spawnUpstreamSpan;
    this.driver = driver;
    this.nodeId = nodeId;
    this.zone = zone;
    this.randomSampling = scope.counter("tracing.random_sampling");
    this.serviceForced = scope.counter("tracing.service_forced");
    this.clientEnabled = scope.counter("tracing.client_enabled");
    this.notTraceable = scope.counter("tracing.not_traceable");
    scope.counter("tracing.health_check");
  }

  /**
   * Builds the tracing of a connection manager.
   *
   * @param path the field path of the {@code tracing} message, for errors
   * @param context the connection manager's factory context (its stats scope and clusters)
   * @param nodeId the server's node id, for the {@code node_id} tag
   * @throws ConfigException naming the field of an unsupported or invalid setting
   */
  public static HttpTracer build(
      HttpConnectionManager.Tracing proto, String path, FactoryContext context, String nodeId) {
    return build(proto, path, context, nodeId, System::getenv);
  }

  static HttpTracer build(
      HttpConnectionManager.Tracing proto,
      String path,
      FactoryContext context,
      String nodeId,
      Function<String, String> env) {
    Sampling s =
        new Sampling(
            percent(proto.hasClientSampling(), proto.getClientSampling(), path + ".client_sampling"),
            percent(proto.hasRandomSampling(), proto.getRandomSampling(), path + ".random_sampling"),
            percent(proto.hasOverallSampling(), proto.getOverallSampling(), path + ".overall_sampling"));
    if (proto.getVerbose()) {
      throw new ConfigException(path + ".verbose", "verbose span logs are not supported yet");
    }
    int maxPath = proto.hasMaxPathTagLength() ? proto.getMaxPathTagLength().getValue() : 256;
    List<CustomTag> tags = new ArrayList<>();
    for (int i = 0; i < proto.getCustomTagsCount(); i++) {
      tags.add(CustomTag.build(proto.getCustomTags(i), path + ".custom_tags[" + i + "]", env));
    }
    TracerDriver driver =
        proto.hasProvider() ? Tracers.driver(proto.getProvider(), context, path + ".provider") : null;
    boolean spawn = proto.hasSpawnUpstreamSpan() && proto.getSpawnUpstreamSpan().getValue();
    return new HttpTracer(s, maxPath, tags, spawn, driver, nodeId, "", context.scope());
  }

  private static int percent(boolean has, Percent p, String path) {
    if (!has) {
      return 10000;
    }
    double v = p.getValue();
    if (!(v >= 0 && v <= 100)) {
      throw new ConfigException(path + ".value", "value must be inside range [0, 100]");
    }
    return (int) Math.round(v * 100);
  }

  /**
   * Decides whether a request is traced and, if so, starts its ingress span. Called once per request
   * on its worker, after the request headers are sanitised (the request id exists). Removes {@code
   * x-envoy-decorator-operation}, whose value names the span.
   */
  public ActiveSpan startSpan(Http2Headers h, StreamInfo info) {
    TraceReason reason = sampling.decide(h);
    switch (reason) {
      case SAMPLING -> randomSampling.inc();
      case SERVICE_FORCED -> serviceForced.inc();
      case CLIENT_FORCED -> clientEnabled.inc();
      default -> notTraceable.inc();
    }
    CharSequence operation = h.get(HttpHeaderNames.X_ENVOY_DECORATOR_OPERATION);
    if (operation != null) {
      h.remove(HttpHeaderNames.X_ENVOY_DECORATOR_OPERATION);
    }
    if (driver == null) {
      return ActiveSpan.NOOP;
    }
    int incoming = Propagation.incomingSampled(h, driver.b3First());
    boolean traced =
        incoming == Propagation.NONE ? reason != TraceReason.NOT_TRACEABLE : incoming == Propagation.SAMPLED;
    if (!traced) {
      // Not recorded, but the upstream still gets a trace context, sampled flag off (as Envoy).
      return new UnsampledActiveSpan(driver, driver.unsampledIngress(h), spawnUpstreamSpan);
    }
    String name;
    if (operation != null && operation.length() > 0) {
      name = operation.toString();
    } else if (driver.style() == TracerDriver.Style.ZIPKIN) {
      CharSequence host = h.authority();
      name = host == null ? "" : host.toString();
    } else {
      name = INGRESS;
    }
    long startEpochNanos = info.startTimeMillis() * 1_000_000L;
    return new RealActiveSpan(this, driver.startIngress(h, name, startEpochNanos), startEpochNanos, info.startNanos());
  }

  /** Returns the provider's driver, or null when {@code tracing} names no provider. */
  public TracerDriver driver() {
    return driver;
  }

  Sampling sampling() {
    return sampling;
  }

  int maxPathTagLength() {
    return maxPathTagLength;
  }

  List<CustomTag> customTags() {
    return customTags;
  }

  boolean spawnUpstreamSpan() {
    return spawnUpstreamSpan;
  }

  String nodeId() {
    return nodeId;
  }

  String zone() {
    return zone;
  }
}
