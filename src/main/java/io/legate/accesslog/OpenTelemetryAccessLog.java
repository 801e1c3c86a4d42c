package io.legate.accesslog;

import io.envoyproxy.envoy.config.core.v3.ApiVersion;
import io.envoyproxy.envoy.config.core.v3.GrpcService;
import io.envoyproxy.envoy.config.core.v3.HeaderValue;
import io.envoyproxy.envoy.config.core.v3.Node;
import io.envoyproxy.envoy.extensions.access_loggers.open_telemetry.v3.OpenTelemetryAccessLogConfig;
import io.legate.config.ConfigException;
import io.legate.formatter.Formatter;
import io.legate.grpc.GrpcChannels;
import io.legate.http.StreamInfo;
import io.legate.stats.Counter;
import io.legate.upstream.ClusterManager;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.api.logs.LogRecordBuilder;
import io.opentelemetry.api.logs.Logger;
import io.opentelemetry.exporter.otlp.logs.OtlpGrpcLogRecordExporter;
import io.opentelemetry.exporter.otlp.logs.OtlpGrpcLogRecordExporterBuilder;
import io.opentelemetry.proto.common.v1.AnyValue;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.common.v1.KeyValueList;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.logs.SdkLoggerProvider;
import io.opentelemetry.sdk.logs.data.LogRecordData;
import io.opentelemetry.sdk.logs.export.BatchLogRecordProcessor;
import io.opentelemetry.sdk.logs.export.LogRecordExporter;
import io.opentelemetry.sdk.resources.Resource;
import java.lang.ref.Cleaner;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Envoy's {@code envoy.access_loggers.open_telemetry}: each finished stream becomes an OpenTelemetry
 * log record sent over OTLP/gRPC ({@code opentelemetry.proto.collector.logs.v1.LogsService/Export})
 * to {@code common_config.grpc_service}. The record's time is the stream's start, its body the
 * formatted {@code body} string, its attributes the formatted {@code attributes} strings; the
 * resource carries Envoy's built-in labels ({@code log_name}, {@code zone_name}, {@code
 * cluster_name}, {@code node_name}, unless {@code disable_builtin_labels}) and {@code
 * resource_attributes}.
 *
 * <p>The worker only formats the strings and hands the record to the OpenTelemetry SDK's batch
 * processor (a bounded queue, never blocking); the SDK's exporter thread sends batches every {@code
 * buffer_flush_interval} (default 1 s). Records sent are counted in {@code
 * access_logs.open_telemetry_access_log.<stat_prefix>logs_written}.
 */
final class OpenTelemetryAccessLog implements AccessLog {
  private static final Cleaner CLEANER = Cleaner.create();

  private final Logger logger;
  private final Formatter body;
  private final List<AttributeKey<String>> keys;
  private final List<Formatter> values;

  private OpenTelemetryAccessLog(Logger logger, Formatter body, List<AttributeKey<String>> keys, List<Formatter> values) {
    this.logger = logger;
    this.body = body;
    this.keys = List.copyOf(keys);
    this.values = List.copyOf(values);
  }

  static OpenTelemetryAccessLog create(OpenTelemetryAccessLogConfig c, String path, ClusterManager clusters) {
    if (clusters == null) {
      throw new ConfigException(path, "envoy.access_loggers.open_telemetry is not available here");
    }
    if (!c.hasCommonConfig()) {
      throw new ConfigException(path + ".common_config", "value is required");
    }
    var common = c.getCommonConfig();
    String cp = path + ".common_config";
    if (common.getTransportApiVersion() != ApiVersion.V3) {
      throw new ConfigException(cp + ".transport_api_version", "only V3 is supported");
    }
    if (!common.hasGrpcService()) {
      throw new ConfigException(cp + ".grpc_service", "value is required");
    }
    if (common.getFilterStateObjectsToLogCount() > 0) {
      throw new ConfigException(cp + ".filter_state_objects_to_log", "filter state objects are not supported yet");
    }
    if (common.hasGrpcStreamRetryPolicy()) {
      throw new ConfigException(cp + ".grpc_stream_retry_policy", "stream retry policies are not supported yet");
    }
    if (c.getFormattersCount() > 0) {
      throw new ConfigException(path + ".formatters", "formatter extensions are not supported yet");
    }
    GrpcService service = common.getGrpcService();
    GrpcChannels.validate(service, cp + ".grpc_service", clusters);
    long flushMs = 1000;
    if (common.hasBufferFlushInterval()) {
      flushMs = common.getBufferFlushInterval().getSeconds() * 1000 + common.getBufferFlushInterval().getNanos() / 1_000_000;
      if (flushMs <= 0) {
        throw new ConfigException(cp + ".buffer_flush_interval", "value must be greater than 0s");
      }
    }
    Formatter body = null;
    if (c.hasBody()) {
      body = stringFormat(c.getBody(), path + ".body");
    }
    List<AttributeKey<String>> keys = new ArrayList<>();
    List<Formatter> values = new ArrayList<>();
    for (int i = 0; i < c.getAttributes().getValuesCount(); i++) {
      KeyValue kv = c.getAttributes().getValues(i);
      String ap = path + ".attributes.values[" + i + "]";
      keys.add(AttributeKey.stringKey(kv.getKey()));
      values.add(stringFormat(kv.getValue(), ap + ".value"));
    }
    AttributesBuilder resource = Attributes.builder();
    if (!c.getDisableBuiltinLabels()) {
      Node node = GrpcAccessLog.localNode();
      resource.put("log_name", common.getLogName());
      resource.put("zone_name", node.getLocality().getZone());
      resource.put("cluster_name", node.getCluster());
      resource.put("node_name", node.getId());
    }
    putAll(resource, c.getResourceAttributes(), path + ".resource_attributes");

    OtlpGrpcLogRecordExporterBuilder b =
        OtlpGrpcLogRecordExporter.builder()
            .setChannel(clusters.grpcChannels().channel(service))
            .setTimeout(GrpcChannels.timeoutMillis(service, 10_000), TimeUnit.MILLISECONDS);
    for (HeaderValue h : service.getInitialMetadataList()) {
      b.addHeader(h.getKey(), h.getValue());
    }
    String prefix = c.getStatPrefix().isEmpty() ? "" : c.getStatPrefix() + ".";
    Counter written = clusters.stats().counter("access_logs.open_telemetry_access_log." + prefix + "logs_written");
    SdkLoggerProvider provider =
        SdkLoggerProvider.builder()
            .setResource(Resource.create(resource.build()))
            .addLogRecordProcessor(
                BatchLogRecordProcessor.builder(new Counting(b.build(), written))
                    .setScheduleDelay(Duration.ofMillis(flushMs))
                    .build())
            .build();
    OpenTelemetryAccessLog log =
        new OpenTelemetryAccessLog(provider.get("envoy.access_loggers.open_telemetry"), body, keys, values);
    // A logger dropped with its config (an xDS update) sends what it holds and stops its thread.
    CLEANER.register(log, provider::close);
    return log;
  }

  /** Compiles a string {@code AnyValue} as a format string; other kinds are refused. */
  private static Formatter stringFormat(AnyValue v, String path) {
    if (v.getValueCase() != AnyValue.ValueCase.STRING_VALUE) {
      throw new ConfigException(path, "only string_value is supported yet (got " + v.getValueCase() + ")");
    }
    return Formatter.parse(v.getStringValue(), path + ".string_value");
  }

  private static void putAll(AttributesBuilder b, KeyValueList list, String path) {
    for (int i = 0; i < list.getValuesCount(); i++) {
      KeyValue kv = list.getValues(i);
      AnyValue v = kv.getValue();
      String vp = path + ".values[" + i + "].value";
      switch (v.getValueCase()) {
        case STRING_VALUE -> b.put(kv.getKey(), v.getStringValue());
        case BOOL_VALUE -> b.put(kv.getKey(), v.getBoolValue());
        case INT_VALUE -> b.put(kv.getKey(), v.getIntValue());
        case DOUBLE_VALUE -> b.put(kv.getKey(), v.getDoubleValue());
        default -> throw new ConfigException(vp, "only string, bool, int and double values are supported yet");
      }
    }
  }

  @Override
  public void log(StreamInfo info) {
    LogRecordBuilder r = logger.logRecordBuilder().setTimestamp(info.startTimeMillis(), TimeUnit.MILLISECONDS);
    long now = System.nanoTime();
    if (body != null) {
      r.setBody(body.format(info, info.requestHeaders(), info.responseHeaders(), now));
    }
    for (int i = 0; i < keys.size(); i++) {
      r.setAttribute(keys.get(i), values.get(i).format(info, info.requestHeaders(), info.responseHeaders(), now));
    }
    r.emit();
  }

  /** Counts the records handed to the exporter ({@code logs_written}). */
  private record Counting(LogRecordExporter delegate, Counter written) implements LogRecordExporter {
    @Override
    public CompletableResultCode export(Collection<LogRecordData> logs) {
      written.add(logs.size());
      return delegate.export(logs);
    }

    @Override
    public CompletableResultCode flush() {
      return delegate.flush();
    }

    @Override
    public CompletableResultCode shutdown() {
      return delegate.shutdown();
    }
  }
}
