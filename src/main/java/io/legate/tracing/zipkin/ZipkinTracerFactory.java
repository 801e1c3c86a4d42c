package io.legate.tracing.zipkin;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.envoyproxy.envoy.config.trace.v3.ZipkinConfig;
import io.legate.config.ConfigException;
import io.legate.extension.FactoryContext;
import io.legate.tracing.CountingSpanExporter;
import io.legate.tracing.TracerDriver;
import io.legate.tracing.TracerFactory;
import io.opentelemetry.exporter.zipkin.ZipkinSpanExporter;
import zipkin2.codec.SpanBytesEncoder;
import zipkin2.reporter.Encoding;

/**
 * {@code envoy.tracers.zipkin}: spans exported as Zipkin v2 JSON ({@code HTTP_JSON}, the default)
 * or protobuf ({@code HTTP_PROTO}) to {@code collector_endpoint} on a host of {@code
 * collector_cluster}, with Envoy's {@code shared_span_context} (default true) and {@code
 * trace_id_128bit} (default false). The service name is the local cluster ({@code node.cluster} or
 * {@code --service-cluster}), as Envoy.
 */
public final class ZipkinTracerFactory implements TracerFactory {
  @Override
  public String name() {
    return "envoy.tracers.zipkin";
  }

  @Override
  public String typeUrl() {
    return "type.googleapis.com/envoy.config.trace.v3.ZipkinConfig";
  }

  @Override
  public TracerDriver create(Any typedConfig, FactoryContext context, String path) {
    ZipkinConfig z;
    try {
      z = typedConfig.unpack(ZipkinConfig.class);
    } catch (InvalidProtocolBufferException e) {
      throw new ConfigException(path, "invalid ZipkinConfig: " + e.getMessage());
    }
    if (z.getCollectorCluster().isEmpty()) {
      throw new ConfigException(path + ".collector_cluster", "value length must be at least 1 characters");
    }
    if (z.getCollectorEndpoint().isEmpty()) {
      throw new ConfigException(path + ".collector_endpoint", "value length must be at least 1 characters");
    }
    if (context.clusterManager() != null && !context.clusterManager().exists(z.getCollectorCluster())) {
      throw new ConfigException(
          path + ".collector_cluster", "unknown cluster '" + z.getCollectorCluster() + "'");
    }
    boolean proto;
    switch (z.getCollectorEndpointVersion()) {
      case HTTP_JSON, DEPRECATED_AND_UNAVAILABLE_DO_NOT_USE -> proto = false;
      case HTTP_PROTO -> proto = true;
      default -> throw new ConfigException(
          path + ".collector_endpoint_version",
          "collector_endpoint_version " + z.getCollectorEndpointVersion() + " is not supported (supported: HTTP_JSON, HTTP_PROTO)");
    }
    if (z.getSplitSpansForRequest()) {
      throw new ConfigException(path + ".split_spans_for_request", "split spans are not supported yet");
    }
    String hostname = z.getCollectorHostname().isEmpty() ? z.getCollectorCluster() : z.getCollectorHostname();
    ClusterHttpSender sender =
        new ClusterHttpSender(
            context.clusterManager(),
            z.getCollectorCluster(),
            z.getCollectorEndpoint(),
            hostname,
            proto ? Encoding.PROTO3 : Encoding.JSON,
            context.stats());
    ZipkinSpanExporter exporter =
        ZipkinSpanExporter.builder()
            .setSender(sender)
            .setEncoder(proto ? SpanBytesEncoder.PROTO3 : SpanBytesEncoder.JSON_V2)
            .build();
    boolean shared = !z.hasSharedSpanContext() || z.getSharedSpanContext().getValue();
    return new TracerDriver(
        TracerDriver.Style.ZIPKIN,
        new CountingSpanExporter(exporter, context.stats().counter("tracing.zipkin.spans_sent")),
        context.localClusterName(),
        shared,
        z.getTraceId128Bit());
  }
}
