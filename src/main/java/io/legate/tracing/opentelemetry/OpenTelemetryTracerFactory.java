package io.legate.tracing.opentelemetry;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import io.envoyproxy.envoy.config.core.v3.GrpcService;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.trace.v3.OpenTelemetryConfig;
import io.grpc.ManagedChannel;
import io.legate.config.ConfigException;
import io.legate.extension.FactoryContext;
import io.legate.grpc.GrpcChannels;
import io.legate.tracing.CountingSpanExporter;
import io.legate.tracing.TracerDriver;
import io.legate.tracing.TracerFactory;
import io.opentelemetry.exporter.otlp.trace.OtlpGrpcSpanExporter;
import io.opentelemetry.exporter.otlp.trace.OtlpGrpcSpanExporterBuilder;
import java.util.concurrent.TimeUnit;

/**
 * {@code envoy.tracers.opentelemetry}: spans exported over OTLP/gRPC to the {@code grpc_service}
 * (an {@code envoy_grpc} cluster or a {@code google_grpc} target) on the shared gRPC channels.
 * {@code service_name} names the resource (default {@code unknown_service:envoy}, as Envoy).
 */
public final class OpenTelemetryTracerFactory implements TracerFactory {
  static final String DEFAULT_SERVICE_NAME = "unknown_service:envoy";

  @Override
  public String name() {
    return "envoy.tracers.opentelemetry";
  }

  @Override
  public String typeUrl() {
    return "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig";
  }

  @Override
  public TracerDriver create(Any typedConfig, FactoryContext context, String path) {
    OpenTelemetryConfig c = validated(typedConfig, context, path);
    GrpcService service = c.getGrpcService();
    ManagedChannel channel = context.clusterManager().grpcChannels().channel(service);
    OtlpGrpcSpanExporterBuilder b =
        OtlpGrpcSpanExporter.builder()
            .setChannel(channel)
            .setTimeout(GrpcChannels.timeoutMillis(service, 10_000), TimeUnit.MILLISECONDS);
    for (HeaderValue h : service.getInitialMetadataList()) {
      b.addHeader(h.getKey(), h.getValue());
    }
    String serviceName = c.getServiceName().isEmpty() ? DEFAULT_SERVICE_NAME : c.getServiceName();
    return new TracerDriver(
        TracerDriver.Style.OPENTELEMETRY,
        new CountingSpanExporter(b.build(), context.stats().counter("tracing.opentelemetry.spans_sent")),
        serviceName,
        false,
        true);
  }

  /** Unpacks and validates the config; throws {@link ConfigException} naming the field. */
  static OpenTelemetryConfig validated(Any typedConfig, FactoryContext context, String path) {
    OpenTelemetryConfig c = parse(typedConfig, path);
    GrpcChannels.validate(c.getGrpcService(), path + ".grpc_service", context.clusterManager());
    return c;
  }

  private static OpenTelemetryConfig parse(Any typedConfig, String path) {
    OpenTelemetryConfig c;
    try {
      c = typedConfig.unpack(OpenTelemetryConfig.class);
    } catch (InvalidProtocolBufferException e) {
      throw new ConfigException(path, "invalid OpenTelemetryConfig: " + e.getMessage());
    }
    if (c.hasHttpService()) {
      throw new ConfigException(path + ".http_service", "OTLP over HTTP is not supported yet: use grpc_service");
    }
    if (c.getResourceDetectorsCount() > 0) {
      throw new ConfigException(path + ".resource_detectors", "resource detectors are not supported yet");
    }
    if (c.hasSampler()) {
      throw new ConfigException(path + ".sampler", "custom samplers are not supported yet");
    }
    if (!c.hasGrpcService()) {
      throw new ConfigException(path, "grpc_service is required (the OTLP collector)");
    }
    return c;
  }
}
