package io.legate.http.filters.healthcheck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Any;
import io.envoyproxy.envoy.extensions.filters.http.health_check.v3.HealthCheck;
import io.legate.config.ConfigException;
import io.legate.config.ConfigLoader;
import io.legate.extension.FactoryContext;
import io.legate.http.ResponseFlag;
import io.legate.http.filter.HttpFilter;
import io.legate.http.filter.HttpFilter.Status;
import io.legate.stats.StatsStore;
import io.legate.testing.FakeFilterCallbacks;
import io.legate.upstream.ClusterManager;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

class HealthCheckFilterTest {
  final StatsStore stats = new StatsStore();
  final AtomicBoolean failing = new AtomicBoolean();
  final FactoryContext ctx =
      new FactoryContext() {
        @Override
        public StatsStore stats() {
          return stats;
        }

        @Override
        public StatsStore.Scope scope() {
          return stats.scope("http.ingress.");
        }

        @Override
        public ClusterManager clusterManager() {
          return null;
        }

        @Override
        public BooleanSupplier serverHealthCheckFailed() {
          return failing::get;
        }

        @Override
        public String localClusterName() {
          return "front";
        }
      };

  HttpFilter.Factory factory(String yaml) {
    HealthCheck hc = ConfigLoader.parse(yaml, HealthCheck.newBuilder(), "test").build();
    return new HealthCheckFilterFactory().create(Any.pack(hc), ctx, "hf");
  }

  static Http2Headers request(String path) {
    return new DefaultHttp2Headers().method("GET").path(path).authority("a").scheme("http");
  }

  record Run(HttpFilter filter, FakeFilterCallbacks cb, Status status) {}

  Run run(HttpFilter.Factory f, String path) {
    HttpFilter filter = f.create();
    FakeFilterCallbacks cb = new FakeFilterCallbacks();
    filter.setDecoderCallbacks(cb);
    return new Run(filter, cb, filter.decodeHeaders(request(path), true));
  }

  static final String HEALTHZ = """
      pass_through_mode: false
      headers: [{ name: ":path", string_match: { exact: /healthz } }]
      """;

  @Test
  void answersHealthChecksItself() {
    HttpFilter.Factory f = factory(HEALTHZ);
    Run hc = run(f, "/healthz");
    assertThat(hc.status()).isEqualTo(Status.STOP_ITERATION);
    assertThat(hc.cb().localReply).isEqualTo(new FakeFilterCallbacks.LocalReply(200, "", null, -1, ""));
    Http2Headers response = new DefaultHttp2Headers().status("200");
    hc.filter().encodeHeaders(response, true);
    assertThat(response.get("x-envoy-upstream-healthchecked-cluster")).hasToString("front");
    assertThat(response.contains("x-envoy-immediate-health-check-fail")).isFalse();

    Run other = run(f, "/app");
    assertThat(other.status()).isEqualTo(Status.CONTINUE);
    assertThat(other.cb().localReply).isNull();
    Http2Headers upstream = new DefaultHttp2Headers().status("200");
    other.filter().encodeHeaders(upstream, true);
    assertThat(upstream.contains("x-envoy-upstream-healthchecked-cluster")).isFalse();
  }

  @Test
  void failingServerAnswers503AndMarksOtherResponses() {
    HttpFilter.Factory f = factory(HEALTHZ);
    failing.set(true);
    Run hc = run(f, "/healthz");
    assertThat(hc.cb().localReply.status()).isEqualTo(503);
    assertThat(hc.cb().info.hasResponseFlag(ResponseFlag.FAILED_LOCAL_HEALTH_CHECK)).isTrue();
    Run other = run(f, "/app");
    assertThat(other.status()).isEqualTo(Status.CONTINUE);
    Http2Headers upstream = new DefaultHttp2Headers().status("200");
    other.filter().encodeHeaders(upstream, true);
    assertThat(upstream.get("x-envoy-immediate-health-check-fail")).hasToString("true");
    failing.set(false);
    assertThat(run(f, "/healthz").cb().localReply.status()).isEqualTo(200);
  }

  @Test
  void passThroughForwardsUnlessFailing() {
    HttpFilter.Factory f = factory("""
        pass_through_mode: true
        headers: [{ name: ":path", string_match: { exact: /healthz } }]
        """);
    Run hc = run(f, "/healthz");
    assertThat(hc.status()).isEqualTo(Status.CONTINUE);
    assertThat(hc.cb().localReply).isNull();
    Http2Headers upstream = new DefaultHttp2Headers().status("200");
    hc.filter().encodeHeaders(upstream, true);
    assertThat(upstream.get("x-envoy-upstream-healthchecked-cluster")).hasToString("front");
    failing.set(true);
    assertThat(run(f, "/healthz").cb().localReply.status()).isEqualTo(503);
  }

  @Test
  void cachedAnswersInPassThroughMode() {
    AtomicLong now = new AtomicLong(0);
    HealthCheckCache cache = new HealthCheckCache(1_000_000_000L, now::get);
    assertThat(cache.useCachedResponse()).isFalse();
    now.set(200_000_000L);
    cache.setCachedResponse(503, true);
    assertThat(cache.useCachedResponse()).isTrue();
    assertThat(cache.cachedStatus()).isEqualTo(503);
    assertThat(cache.cachedDegraded()).isTrue();
    now.set(999_999_999L);
    assertThat(cache.useCachedResponse()).isTrue();
    now.set(1_000_000_000L); // the period ends: the next check goes upstream
    assertThat(cache.useCachedResponse()).isFalse();

    HttpFilter.Factory f = factory("""
        pass_through_mode: true
        cache_time: 60s
        headers: [{ name: ":path", string_match: { exact: /healthz } }]
        """);
    Run first = run(f, "/healthz");
    assertThat(first.status()).isEqualTo(Status.CONTINUE);
    Http2Headers upstream = new DefaultHttp2Headers().status("503");
    first.filter().encodeHeaders(upstream, true);
    Run second = run(f, "/healthz");
    assertThat(second.status()).isEqualTo(Status.STOP_ITERATION);
    assertThat(second.cb().localReply.status()).isEqualTo(503);
    assertThat(second.cb().info.hasResponseFlag(ResponseFlag.FAILED_LOCAL_HEALTH_CHECK)).isTrue();
  }

  @Test
  void unknownClusterInMinHealthyIsUnhealthy() {
    HttpFilter.Factory f = factory(HEALTHZ + "cluster_min_healthy_percentages: { missing: { value: 50 } }\n");
    assertThat(run(f, "/healthz").cb().localReply.status()).isEqualTo(503);
  }

  @Test
  void configErrors() {
    assertThatThrownBy(() -> factory("headers: []"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("hf.typed_config.pass_through_mode: value is required");
    assertThatThrownBy(() -> factory("pass_through_mode: false\ncache_time: 5s"))
        .hasMessage("hf.typed_config.cache_time: cache_time_ms must not be set when path_through_mode is disabled");
  }
}
