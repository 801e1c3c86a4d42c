package io.legate.http.filters.localratelimit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Any;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit;
import io.legate.config.ConfigException;
import io.legate.config.ConfigLoader;
import io.legate.extension.FactoryContext;
import io.legate.http.ResponseFlag;
import io.legate.http.filter.HttpFilter.Status;
import io.legate.router.RouteTable;
import io.legate.stats.StatsStore;
import io.legate.testing.FakeFilterCallbacks;
import io.legate.upstream.ClusterManager;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.DefaultAttributeMap;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class LocalRateLimitFilterTest {
  static final long S = 1_000_000_000L;
  final StatsStore stats = new StatsStore();
  final AtomicLong now = new AtomicLong(7 * S);
  final AtomicLong random = new AtomicLong();
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
        public String filterConfigName() {
          return "rl";
        }
      };

  static LocalRateLimit proto(String yaml) {
    return ConfigLoader.parse(yaml, LocalRateLimit.newBuilder(), "test").build();
  }

  LocalRateLimitConfig config(String yaml) {
    return new LocalRateLimitConfig(proto(yaml), "lrl", stats, false, now::get, random::get);
  }

  static final String BASE = """
      stat_prefix: rl
      token_bucket: { max_tokens: 2, tokens_per_fill: 1, fill_interval: 1s }
      filter_enabled: { runtime_key: e, default_value: { numerator: 100 } }
      filter_enforced: { runtime_key: f, default_value: { numerator: 100 } }
      """;

  static Http2Headers request() {
    return new DefaultHttp2Headers().method("GET").path("/x").authority("a").scheme("http");
  }

  record Run(LocalRateLimitFilter filter, FakeFilterCallbacks cb, Status status, Http2Headers headers) {}

  Run run(LocalRateLimitConfig c, FakeFilterCallbacks cb) {
    LocalRateLimitFilter f = new LocalRateLimitFilter(c, "rl");
    f.setDecoderCallbacks(cb);
    Http2Headers h = request();
    return new Run(f, cb, f.decodeHeaders(h, true), h);
  }

  Run run(LocalRateLimitConfig c) {
    return run(c, new FakeFilterCallbacks());
  }

  long counter(String name) {
    return stats.counter("rl.http_local_rate_limit." + name).value();
  }

  @Test
  void allowsTheBucketThenAnswers429ThenRefills() {
    LocalRateLimitConfig c = config(BASE);
    assertThat(run(c).status()).isEqualTo(Status.CONTINUE);
    assertThat(run(c).status()).isEqualTo(Status.CONTINUE);
    Run limited = run(c);
    assertThat(limited.status()).isEqualTo(Status.STOP_ITERATION);
    assertThat(limited.cb().localReply).isEqualTo(
        new FakeFilterCallbacks.LocalReply(429, "local_rate_limited", null, -1, "local_rate_limited"));
    assertThat(limited.cb().info.hasResponseFlag(ResponseFlag.RATE_LIMITED)).isTrue();
    assertThat(counter("enabled")).isEqualTo(3);
    assertThat(counter("ok")).isEqualTo(2);
    assertThat(counter("rate_limited")).isEqualTo(1);
    assertThat(counter("enforced")).isEqualTo(1);
    now.addAndGet(S);
    assertThat(run(c).status()).isEqualTo(Status.CONTINUE);
    assertThat(run(c).status()).isEqualTo(Status.STOP_ITERATION);
  }

  @Test
  void notEnabledDoesNothing() {
    LocalRateLimitConfig c = config("""
        stat_prefix: rl
        token_bucket: { max_tokens: 1, fill_interval: 1s }
        """);
    for (int i = 0; i < 3; i++) {
      assertThat(run(c).status()).isEqualTo(Status.CONTINUE);
    }
    assertThat(counter("enabled")).isZero();
    assertThat(counter("ok")).isZero();
  }

  @Test
  void notEnforcedCountsAndMarksTheRequest() {
    LocalRateLimitConfig c = config("""
        stat_prefix: rl
        token_bucket: { max_tokens: 1, fill_interval: 1s }
        filter_enabled: { runtime_key: e, default_value: { numerator: 100 } }
        filter_enforced: { runtime_key: f, default_value: {} }
        request_headers_to_add_when_not_enforced:
        - header: { key: x-local-ratelimited, value: "true" }
        """);
    Run first = run(c);
    assertThat(first.headers().get("x-local-ratelimited")).isNull();
    Run second = run(c);
    assertThat(second.status()).isEqualTo(Status.CONTINUE);
    assertThat(second.cb().localReply).isNull();
    assertThat(second.headers().get("x-local-ratelimited")).hasToString("true");
    assertThat(counter("rate_limited")).isEqualTo(1);
    assertThat(counter("enforced")).isZero();
  }

  @Test
  void enabledAndEnforcedArePercentages() {
    LocalRateLimitConfig c = config("""
        stat_prefix: rl
        token_bucket: { max_tokens: 1, fill_interval: 1s }
        filter_enabled: { runtime_key: e, default_value: { numerator: 50, denominator: TEN_THOUSAND } }
        filter_enforced: { runtime_key: f, default_value: { numerator: 100 } }
        """);
    random.set(50);
    assertThat(run(c).status()).isEqualTo(Status.CONTINUE);
    assertThat(counter("enabled")).isZero();
    random.set(49);
    run(c);
    assertThat(run(c).status()).isEqualTo(Status.STOP_ITERATION);
    assertThat(counter("enabled")).isEqualTo(2);
  }

  @Test
  void statusAndResponseHeadersAndGrpc() {
    LocalRateLimitConfig c = config(BASE + """
        status: { code: ServiceUnavailable }
        rate_limited_as_resource_exhausted: true
        response_headers_to_add:
        - append_action: OVERWRITE_IF_EXISTS_OR_ADD
          header: { key: x-local-rate-limit, value: "true" }
        """);
    run(c);
    run(c);
    FakeFilterCallbacks.LocalReply r = run(c).cb().localReply;
    assertThat(r.status()).isEqualTo(503);
    assertThat(r.grpcStatus()).isEqualTo(8);
    assertThat(r.extraHeaders().get("x-local-rate-limit")).hasToString("true");
    // a status below 400 means 429
    LocalRateLimitConfig low = config(BASE + "status: { code: OK }\n");
    run(low);
    run(low);
    assertThat(run(low).cb().localReply.status()).isEqualTo(429);
  }

  @Test
  void perConnectionBuckets() {
    LocalRateLimitConfig c = config(BASE + "local_rate_limit_per_downstream_connection: true\n");
    FakeFilterCallbacks a = new FakeFilterCallbacks();
    FakeFilterCallbacks b = new FakeFilterCallbacks();
    b.connection = a.connection;
    assertThat(run(c, a).status()).isEqualTo(Status.CONTINUE);
    assertThat(run(c, b).status()).isEqualTo(Status.CONTINUE);
    FakeFilterCallbacks third = new FakeFilterCallbacks();
    third.connection = a.connection;
    assertThat(run(c, third).status()).isEqualTo(Status.STOP_ITERATION);
    FakeFilterCallbacks other = new FakeFilterCallbacks();
    other.connection = new DefaultAttributeMap();
    assertThat(run(c, other).status()).isEqualTo(Status.CONTINUE);
  }

  @Test
  void xRateLimitHeaders() {
    LocalRateLimitConfig c = config(BASE + "enable_x_ratelimit_headers: DRAFT_VERSION_03\n");
    Run r = run(c);
    Http2Headers response = new DefaultHttp2Headers().status("200");
    r.filter().encodeHeaders(response, true);
    assertThat(response.get("x-ratelimit-limit")).hasToString("2");
    assertThat(response.get("x-ratelimit-remaining")).hasToString("1");
    assertThat(response.get("x-ratelimit-reset")).hasToString("0");
    run(c);
    Run limited = run(c);
    Http2Headers reply = new DefaultHttp2Headers().status("429");
    limited.filter().encodeHeaders(reply, true);
    assertThat(reply.get("x-ratelimit-remaining")).hasToString("0");
    assertThat(reply.get("x-ratelimit-reset")).hasToString("1");
    // off by default
    Run plain = run(config(BASE));
    Http2Headers h = new DefaultHttp2Headers().status("200");
    plain.filter().encodeHeaders(h, true);
    assertThat(h.contains("x-ratelimit-limit")).isFalse();
  }

  static final String DESCRIPTOR_ROUTES = """
      virtual_hosts:
      - name: vh
        domains: ["*"]
        rate_limits:
        - actions: [{ generic_key: { descriptor_value: vh } }]
        routes:
        - match: { prefix: /include }
          route:
            cluster: a
            include_vh_rate_limits: true
            rate_limits:
            - actions: [{ request_headers: { header_name: x-k, descriptor_key: k } }]
            - stage: 1
              actions: [{ generic_key: { descriptor_value: late } }]
        - match: { prefix: /route }
          route:
            cluster: a
            rate_limits:
            - actions: [{ request_headers: { header_name: x-k, descriptor_key: k } }]
        - match: { prefix: / }
          route: { cluster: a }
      """;

  /** Runs the filter on {@code path} with header x-k: {@code k}; returns whether it passed. */
  boolean allowed(LocalRateLimitConfig c, RouteTable t, String path, String k, FakeFilterCallbacks cb) {
    Http2Headers h = request().path(path);
    if (k != null) {
      h.set("x-k", k);
    }
    cb.route = t.route(h, 0);
    LocalRateLimitFilter f = new LocalRateLimitFilter(c, "rl");
    f.setDecoderCallbacks(cb);
    return f.decodeHeaders(h, true) == Status.CONTINUE;
  }

  @Test
  void descriptorsFromTheRoutesActions() {
    RouteTable t = RouteTable.build(
        ConfigLoader.parse(DESCRIPTOR_ROUTES, RouteConfiguration.newBuilder(), "t").build(), "route_config", null, ctx);
    String descriptors = """
        descriptors:
        - { entries: [{ key: k, value: one }], token_bucket: { max_tokens: 1, fill_interval: 60s } }
        - { entries: [{ key: generic_key, value: vh }], token_bucket: { max_tokens: 3, fill_interval: 60s } }
        - { entries: [{ key: generic_key, value: late }], token_bucket: { max_tokens: 1, fill_interval: 60s } }
        """;
    // Default bucket of 2, always consumed: k=one passes once (its own bucket), then is refused.
    LocalRateLimitConfig c = config(BASE + descriptors + "vh_rate_limits: IGNORE\n");
    assertThat(allowed(c, t, "/route", "one", new FakeFilterCallbacks())).isTrue();
    assertThat(allowed(c, t, "/route", "one", new FakeFilterCallbacks())).isFalse();
    // k=two matches nothing: the default bucket, which k=one's request already used once.
    assertThat(allowed(c, t, "/route", "two", new FakeFilterCallbacks())).isTrue();
    assertThat(allowed(c, t, "/route", "two", new FakeFilterCallbacks())).isFalse();

    // Not always consumed: a matching descriptor spares the default bucket.
    LocalRateLimitConfig spare = config(BASE + descriptors + "always_consume_default_token_bucket: false\n");
    // The virtual host's generic_key=vh is used only where the route has no rate_limits (OVERRIDE).
    assertThat(allowed(spare, t, "/other", null, new FakeFilterCallbacks())).isTrue();
    assertThat(allowed(spare, t, "/other", null, new FakeFilterCallbacks())).isTrue();
    assertThat(allowed(spare, t, "/other", null, new FakeFilterCallbacks())).isTrue();
    assertThat(allowed(spare, t, "/other", null, new FakeFilterCallbacks())).isFalse();
    // include_vh_rate_limits: k=one (1 token) and vh (exhausted) both match; stage 1 is not this stage.
    assertThat(allowed(spare, t, "/include", "one", new FakeFilterCallbacks())).isFalse();

    // Stage 1 sees only the stage 1 entry (late: 1 token).
    LocalRateLimitConfig late = config(BASE + descriptors + "stage: 1\nalways_consume_default_token_bucket: false\n");
    assertThat(allowed(late, t, "/include", "one", new FakeFilterCallbacks())).isTrue();
    assertThat(allowed(late, t, "/include", "one", new FakeFilterCallbacks())).isFalse();
  }

  @Test
  void perConnectionDescriptorBuckets() {
    RouteTable t = RouteTable.build(
        ConfigLoader.parse(DESCRIPTOR_ROUTES, RouteConfiguration.newBuilder(), "t").build(), "route_config", null, ctx);
    LocalRateLimitConfig c = config(BASE + """
        local_rate_limit_per_downstream_connection: true
        descriptors:
        - { entries: [{ key: k, value: one }], token_bucket: { max_tokens: 1, fill_interval: 60s } }
        """);
    FakeFilterCallbacks a = new FakeFilterCallbacks();
    FakeFilterCallbacks b = new FakeFilterCallbacks();
    b.connection = new DefaultAttributeMap();
    assertThat(allowed(c, t, "/route", "one", a)).isTrue();
    assertThat(allowed(c, t, "/route", "one", a)).isFalse();
    assertThat(allowed(c, t, "/route", "one", b)).isTrue();
  }

  @Test
  void perRouteConfigHasItsOwnBucket() {
    LocalRateLimitFilterFactory factory = new LocalRateLimitFilterFactory();
    LocalRateLimitConfig c = config(BASE);
    RouteConfiguration rc = ConfigLoader.parse("""
        virtual_hosts:
        - name: vh
          domains: ["*"]
          routes:
          - match: { prefix: /tight }
            route: { cluster: a }
            typed_per_filter_config:
              rl:
                "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
                stat_prefix: tight
                token_bucket: { max_tokens: 1, fill_interval: 60s }
                filter_enabled: { runtime_key: e, default_value: { numerator: 100 } }
                filter_enforced: { runtime_key: f, default_value: { numerator: 100 } }
          - match: { prefix: / }
            route: { cluster: a }
        """, RouteConfiguration.newBuilder(), "t").build();
    RouteTable t = RouteTable.build(rc, "route_config", null, ctx);
    Http2Headers tight = request().path("/tight");
    FakeFilterCallbacks cb = new FakeFilterCallbacks();
    cb.route = t.route(tight, 0);
    LocalRateLimitFilter f = new LocalRateLimitFilter(c, "rl");
    f.setDecoderCallbacks(cb);
    assertThat(f.decodeHeaders(tight, true)).isEqualTo(Status.CONTINUE);
    cb = new FakeFilterCallbacks();
    cb.route = t.route(tight, 0);
    f = new LocalRateLimitFilter(c, "rl");
    f.setDecoderCallbacks(cb);
    assertThat(f.decodeHeaders(tight, true)).isEqualTo(Status.STOP_ITERATION);
    assertThat(stats.counter("tight.http_local_rate_limit.rate_limited").value()).isEqualTo(1);
    assertThat(counter("enabled")).isZero();
    assertThat(factory.name()).isEqualTo("envoy.filters.http.local_ratelimit");
  }

  @Test
  void configErrorsNameTheField() {
    LocalRateLimitFilterFactory factory = new LocalRateLimitFilterFactory();
    assertThatThrownBy(() -> factory.create(Any.pack(proto("token_bucket: { max_tokens: 1, fill_interval: 1s }")), ctx, "hf"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("hf.typed_config.stat_prefix: value length must be at least 1 characters");
    assertThatThrownBy(() -> factory.create(Any.pack(proto("""
        stat_prefix: a
        descriptors:
        - { entries: [{ key: k, value: v }], token_bucket: { max_tokens: 1, fill_interval: 1s } }
        - { entries: [{ key: k, value: v }], token_bucket: { max_tokens: 2, fill_interval: 1s } }
        """)), ctx, "hf"))
        .hasMessage("hf.typed_config.descriptors[1]: duplicate descriptor in the local rate descriptor: k=v")
        .isNotNull();
    assertThatThrownBy(() -> factory.create(Any.pack(proto("""
        stat_prefix: a
        descriptors: [{ entries: [{ key: k }], token_bucket: { max_tokens: 1, fill_interval: 1s } }]
        """)), ctx, "hf"))
        .hasMessage("hf.typed_config.descriptors[0].entries[0].value: wildcard (empty) values are not supported yet");
    assertThatThrownBy(() -> factory.create(Any.pack(proto("stat_prefix: a\ntoken_bucket: { max_tokens: 1 }")), ctx, "hf"))
        .hasMessage("hf.typed_config.token_bucket.fill_interval: value must be greater than 0s");
    assertThatThrownBy(() -> factory.create(Any.pack(proto("stat_prefix: a\ntoken_bucket: { fill_interval: 1s }")), ctx, "hf"))
        .hasMessage("hf.typed_config.token_bucket.max_tokens: value must be greater than 0");
    RouteConfiguration rc = ConfigLoader.parse("""
        virtual_hosts:
        - name: vh
          domains: ["*"]
          typed_per_filter_config:
            rl:
              "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
              stat_prefix: x
          routes: []
        """, RouteConfiguration.newBuilder(), "t").build();
    assertThatThrownBy(() -> RouteTable.build(rc, "route_config", null, ctx))
        .hasMessage("route_config.virtual_hosts[0].typed_per_filter_config[\"rl\"].token_bucket: "
            + "local rate limit token bucket must be set for per filter configs");
  }
}
