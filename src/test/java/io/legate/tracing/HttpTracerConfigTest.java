package io.legate.tracing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.util.JsonFormat;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.legate.config.ConfigException;
import io.legate.extension.FactoryContext;
import io.legate.stats.StatsStore;
import io.legate.upstream.ClusterManager;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The {@code tracing} config: what is accepted, and the exact errors for what is not. */
class HttpTracerConfigTest {
  private static final StatsStore STATS = new StatsStore();

  private static final FactoryContext CTX =
      new FactoryContext() {
        @Override
        public StatsStore stats() {
          return STATS;
        }

        @Override
        public StatsStore.Scope scope() {
          return STATS.scope("http.test.");
        }

        @Override
        public ClusterManager clusterManager() {
          return null;
        }
      };

  private static HttpConnectionManager.Tracing parse(String json) throws Exception {
    HttpConnectionManager.Tracing.Builder b = HttpConnectionManager.Tracing.newBuilder();
    JsonFormat.parser()
        .usingTypeRegistry(
            JsonFormat.TypeRegistry.newBuilder()
                .add(io.envoyproxy.envoy.config.trace.v3.OpenTelemetryConfig.getDescriptor())
                .add(io.envoyproxy.envoy.config.trace.v3.ZipkinConfig.getDescriptor())
                .build())
        .merge(json, b);
    return b.build();
  }

  private static HttpTracer build(String json) throws Exception {
    return HttpTracer.build(parse(json), "t", CTX, "node", Map.of("POD", "p-1")::get);
  }

  @Test
  void defaultsAndPercentages() throws Exception {
    HttpTracer t = build("{}");
    assertThat(t.sampling()).isEqualTo(Sampling.ALL);
    assertThat(t.maxPathTagLength()).isEqualTo(256);
    assertThat(t.driver()).isNull();
    assertThat(t.spawnUpstreamSpan()).isFalse();
    HttpTracer p =
        build("{\"client_sampling\":{\"value\":12.5},\"random_sampling\":{\"value\":0.01},\"overall_sampling\":{\"value\":0},"
            + "\"max_path_tag_length\":10,\"spawn_upstream_span\":true}");
    assertThat(p.sampling()).isEqualTo(new Sampling(1250, 1, 0));
    assertThat(p.maxPathTagLength()).isEqualTo(10);
    assertThat(p.spawnUpstreamSpan()).isTrue();
  }

  @Test
  void customTags() throws Exception {
    HttpTracer t =
        build("{\"custom_tags\":[{\"tag\":\"a\",\"literal\":{\"value\":\"x\"}},"
            + "{\"tag\":\"b\",\"environment\":{\"name\":\"POD\"}},"
            + "{\"tag\":\"c\",\"environment\":{\"name\":\"NOPE\",\"default_value\":\"d\"}},"
            + "{\"tag\":\"e\",\"request_header\":{\"name\":\"X-Up\"}}]}");
    assertThat(t.customTags())
        .containsExactly(
            new CustomTag("a", "x", null),
            new CustomTag("b", "p-1", null),
            new CustomTag("c", "d", null),
            new CustomTag("e", "", io.netty.util.AsciiString.of("x-up")));
    var h = new io.netty.handler.codec.http2.DefaultHttp2Headers().set("x-up", "v");
    assertThat(t.customTags().get(3).valueFor(h)).isEqualTo("v");
    assertThat(t.customTags().get(3).valueFor(new io.netty.handler.codec.http2.DefaultHttp2Headers())).isNull();
  }

  @Test
  void refusals() {
    assertThatThrownBy(() -> build("{\"verbose\":true}"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("t.verbose: verbose span logs are not supported yet");
    assertThatThrownBy(() -> build("{\"random_sampling\":{\"value\":101}}"))
        .hasMessage("t.random_sampling.value: value must be inside range [0, 100]");
    assertThatThrownBy(() -> build("{\"custom_tags\":[{\"tag\":\"m\",\"metadata\":{}}]}"))
        .hasMessage("t.custom_tags[0].metadata: metadata custom tags are not supported yet");
    assertThatThrownBy(
            () ->
                HttpTracer.build(
                    HttpConnectionManager.Tracing.newBuilder()
                        .setProvider(
                            io.envoyproxy.envoy.config.trace.v3.Tracing.Http.newBuilder()
                                .setName("x")
                                .setTypedConfig(
                                    com.google.protobuf.Any.newBuilder()
                                        .setTypeUrl("type.googleapis.com/envoy.config.trace.v3.DatadogConfig")))
                        .build(),
                    "t",
                    CTX,
                    "node"))
        .hasMessage("t.provider.typed_config: unsupported tracer type 'type.googleapis.com/envoy.config.trace.v3.DatadogConfig' (tracer 'x')");
    assertThatThrownBy(() -> build("{\"provider\":{\"name\":\"envoy.tracers.opentelemetry\",\"typed_config\":{"
            + "\"@type\":\"type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig\",\"http_service\":{}}}}"))
        .hasMessage("t.provider.typed_config.http_service: OTLP over HTTP is not supported yet: use grpc_service");
    assertThatThrownBy(() -> build("{\"provider\":{\"name\":\"envoy.tracers.opentelemetry\",\"typed_config\":{"
            + "\"@type\":\"type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig\",\"resource_detectors\":[{\"name\":\"r\"}]}}}"))
        .hasMessage("t.provider.typed_config.resource_detectors: resource detectors are not supported yet");
    assertThatThrownBy(() -> build("{\"provider\":{\"name\":\"envoy.tracers.zipkin\",\"typed_config\":{"
            + "\"@type\":\"type.googleapis.com/envoy.config.trace.v3.ZipkinConfig\",\"collector_cluster\":\"z\",\"collector_endpoint\":\"/api/v2/spans\","
            + "\"collector_endpoint_version\":\"GRPC\"}}}"))
        .hasMessage("t.provider.typed_config.collector_endpoint_version: collector_endpoint_version GRPC is not supported (supported: HTTP_JSON, HTTP_PROTO)");
    assertThatThrownBy(() -> build("{\"provider\":{\"name\":\"envoy.tracers.zipkin\",\"typed_config\":{"
            + "\"@type\":\"type.googleapis.com/envoy.config.trace.v3.ZipkinConfig\",\"collector_endpoint\":\"/api/v2/spans\"}}}"))
        .hasMessage("t.provider.typed_config.collector_cluster: value length must be at least 1 characters");
  }
}
