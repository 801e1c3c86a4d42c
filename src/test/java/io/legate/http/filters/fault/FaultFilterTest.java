package io.legate.http.filters.fault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Any;
import io.envoyproxy.envoy.config.route.v3.RouteConfiguration;
import io.envoyproxy.envoy.extensions.filters.http.fault.v3.HTTPFault;
import io.legate.config.ConfigException;
import io.legate.config.ConfigLoader;
import io.legate.extension.FactoryContext;
import io.legate.http.ResponseFlag;
import io.legate.http.filter.HttpFilter.Status;
import io.legate.router.RouteTable;
import io.legate.stats.StatsStore;
import io.legate.testing.FakeFilterCallbacks;
import io.legate.upstream.ClusterManager;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class FaultFilterTest {
  final StatsStore stats = new StatsStore();
  final AtomicLong random = new AtomicLong();
  final AtomicLong nanos = new AtomicLong();
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
          return "envoy.filters.http.fault";
        }
      };

  static HTTPFault proto(String yaml) {
    return ConfigLoader.parse(yaml, HTTPFault.newBuilder(), "test").build();
  }

  FaultConfig config(String yaml) {
    return new FaultConfig(FaultSettings.parse(proto(yaml), "f"), "envoy.filters.http.fault",
        stats.scope("http.ingress.fault."), random::get, nanos::get);
  }

  static Http2Headers request(String... kv) {
    Http2Headers h = new DefaultHttp2Headers().method("GET").path("/x").authority("a").scheme("http");
    for (int i = 0; i < kv.length; i += 2) {
      h.add(kv[i], kv[i + 1]);
    }
    return h;
  }

  long counter(String name) {
    return stats.counter("http.ingress.fault." + name).value();
  }

  long active() {
    return stats.gauge("http.ingress.fault.active_faults").value();
  }

  record Run(FaultFilter filter, FakeFilterCallbacks cb, Status status) {}

  Run run(FaultConfig c, Http2Headers h) {
    FakeFilterCallbacks cb = new FakeFilterCallbacks();
    FaultFilter f = new FaultFilter(c);
    f.setDecoderCallbacks(cb);
    f.setEncoderCallbacks(cb);
    return new Run(f, cb, f.decodeHeaders(h, true));
  }

  @Test
  void abortsWithHttpStatusAndCountsAnActiveFault() {
    FaultConfig c = config("abort: { http_status: 503, percentage: { numerator: 100 } }");
    Run r = run(c, request());
    assertThat(r.status()).isEqualTo(Status.STOP_ITERATION);
    assertThat(r.cb().localReply).isEqualTo(
        new FakeFilterCallbacks.LocalReply(503, "fault filter abort", null, -1, "fault_filter_abort"));
    assertThat(r.cb().info.hasResponseFlag(ResponseFlag.FAULT_INJECTED)).isTrue();
    assertThat(r.cb().info.hasResponseFlag(ResponseFlag.DELAY_INJECTED)).isFalse();
    assertThat(counter("aborts_injected")).isEqualTo(1);
    assertThat(counter("delays_injected")).isZero();
    assertThat(active()).isEqualTo(1);
    r.filter().onDestroy();
    assertThat(active()).isZero();
  }

  @Test
  void grpcAbortIsHttp200WithTheGrpcStatus() {
    Run r = run(config("abort: { grpc_status: 14, percentage: { numerator: 100 } }"), request());
    assertThat(r.cb().localReply).isEqualTo(
        new FakeFilterCallbacks.LocalReply(200, "fault filter abort", null, 14, "fault_filter_abort"));
  }

  @Test
  void percentagesUseTheirDenominators() {
    FaultConfig half = config("abort: { http_status: 500, percentage: { numerator: 50 } }");
    random.set(49);
    assertThat(run(half, request()).status()).isEqualTo(Status.STOP_ITERATION);
    random.set(150); // 150 % 100 = 50: not below 50
    assertThat(run(half, request()).cb().localReply).isNull();

    FaultConfig zero = config("abort: { http_status: 500, percentage: { numerator: 0 } }");
    random.set(0);
    assertThat(run(zero, request()).status()).isEqualTo(Status.CONTINUE);

    FaultConfig absent = config("abort: { http_status: 500 }");
    assertThat(run(absent, request()).status()).isEqualTo(Status.CONTINUE);

    FaultConfig tenK = config("abort: { http_status: 500, percentage: { numerator: 1, denominator: TEN_THOUSAND } }");
    random.set(10_000);
    assertThat(run(tenK, request()).status()).isEqualTo(Status.STOP_ITERATION);
    random.set(10_001);
    assertThat(run(tenK, request()).status()).isEqualTo(Status.CONTINUE);

    FaultConfig million = config("abort: { http_status: 500, percentage: { numerator: 3, denominator: MILLION } }");
    random.set(2_000_002);
    assertThat(run(million, request()).status()).isEqualTo(Status.STOP_ITERATION);
    random.set(2_000_003);
    assertThat(run(million, request()).status()).isEqualTo(Status.CONTINUE);

    random.set(-1); // an unsigned draw: 2^64-1 % 100 = 15
    assertThat(run(config("abort: { http_status: 500, percentage: { numerator: 16 } }"), request()).status())
        .isEqualTo(Status.STOP_ITERATION);
    assertThat(run(config("abort: { http_status: 500, percentage: { numerator: 15 } }"), request()).status())
        .isEqualTo(Status.CONTINUE);
  }

  @Test
  void fixedDelayUsesTheEventLoopTimerThenContinues() {
    FaultConfig c = config("delay: { fixed_delay: 0.2s, percentage: { numerator: 100 } }");
    Run r = run(c, request());
    assertThat(r.status()).isEqualTo(Status.STOP_ITERATION);
    assertThat(r.cb().info.hasResponseFlag(ResponseFlag.DELAY_INJECTED)).isTrue();
    assertThat(counter("delays_injected")).isEqualTo(1);
    assertThat(active()).isEqualTo(1);
    r.cb().advance(199);
    assertThat(r.cb().continueDecodingCalls).isZero();
    r.cb().advance(1);
    assertThat(r.cb().continueDecodingCalls).isEqualTo(1);
    assertThat(r.cb().localReply).isNull();
    assertThat(active()).isZero();
    r.filter().onDestroy();
    assertThat(active()).isZero();
  }

  @Test
  void delayThenAbort() {
    FaultConfig c = config("""
        delay: { fixed_delay: 0.1s, percentage: { numerator: 100 } }
        abort: { http_status: 502, percentage: { numerator: 100 } }
        """);
    Run r = run(c, request());
    assertThat(r.status()).isEqualTo(Status.STOP_ITERATION);
    assertThat(r.cb().localReply).isNull();
    r.cb().advance(100);
    assertThat(r.cb().localReply.status()).isEqualTo(502);
    assertThat(r.cb().continueDecodingCalls).isZero();
    assertThat(r.cb().info.hasResponseFlag(ResponseFlag.DELAY_INJECTED)).isTrue();
    assertThat(r.cb().info.hasResponseFlag(ResponseFlag.FAULT_INJECTED)).isTrue();
    assertThat(counter("aborts_injected")).isEqualTo(1);
    assertThat(counter("delays_injected")).isEqualTo(1);
    assertThat(active()).isEqualTo(1);
    r.filter().onDestroy();
    assertThat(active()).isZero();
  }

  @Test
  void destroyCancelsThePendingDelay() {
    Run r = run(config("delay: { fixed_delay: 1s, percentage: { numerator: 100 } }"), request());
    r.filter().onDestroy();
    r.cb().advance(2000);
    assertThat(r.cb().continueDecodingCalls).isZero();
    assertThat(active()).isZero();
  }

  @Test
  void headerAbortTakesTheStatusFromTheRequest() {
    FaultConfig c = config("abort: { header_abort: {}, percentage: { numerator: 100 } }");
    assertThat(run(c, request("x-envoy-fault-abort-request", "429")).cb().localReply.status()).isEqualTo(429);
    assertThat(run(c, request()).status()).isEqualTo(Status.CONTINUE);
    assertThat(run(c, request("x-envoy-fault-abort-request", "abc")).status()).isEqualTo(Status.CONTINUE);
    assertThat(run(c, request("x-envoy-fault-abort-request", "600")).status()).isEqualTo(Status.CONTINUE);
    assertThat(run(c, request("x-envoy-fault-abort-request", "199")).status()).isEqualTo(Status.CONTINUE);
    FakeFilterCallbacks.LocalReply grpc =
        run(c, request("x-envoy-fault-abort-grpc-request", "5")).cb().localReply;
    assertThat(grpc.status()).isEqualTo(200);
    assertThat(grpc.grpcStatus()).isEqualTo(5);
    // the HTTP status wins over the gRPC one
    assertThat(run(c, request("x-envoy-fault-abort-request", "503", "x-envoy-fault-abort-grpc-request", "5"))
        .cb().localReply.grpcStatus()).isEqualTo(-1);
    // the header percentage lowers the configured one
    random.set(10);
    assertThat(run(c, request("x-envoy-fault-abort-request", "503", "x-envoy-fault-abort-request-percentage", "10"))
        .status()).isEqualTo(Status.CONTINUE);
    assertThat(run(c, request("x-envoy-fault-abort-request", "503", "x-envoy-fault-abort-request-percentage", "11"))
        .status()).isEqualTo(Status.STOP_ITERATION);
    assertThat(counter("aborts_injected")).isEqualTo(4);
  }

  @Test
  void headerPercentageCannotRaiseTheConfiguredOne() {
    FaultConfig c = config("abort: { header_abort: {}, percentage: { numerator: 10 } }");
    random.set(50);
    assertThat(run(c, request("x-envoy-fault-abort-request", "503", "x-envoy-fault-abort-request-percentage", "100"))
        .status()).isEqualTo(Status.CONTINUE);
  }

  @Test
  void headerDelayTakesTheDurationFromTheRequest() {
    FaultConfig c = config("delay: { header_delay: {}, percentage: { numerator: 100 } }");
    Run r = run(c, request("x-envoy-fault-delay-request", "300"));
    assertThat(r.status()).isEqualTo(Status.STOP_ITERATION);
    r.cb().advance(299);
    assertThat(r.cb().continueDecodingCalls).isZero();
    r.cb().advance(1);
    assertThat(r.cb().continueDecodingCalls).isEqualTo(1);
    assertThat(run(c, request()).status()).isEqualTo(Status.CONTINUE);
    assertThat(run(c, request("x-envoy-fault-delay-request", "0")).status()).isEqualTo(Status.CONTINUE);
    assertThat(run(c, request("x-envoy-fault-delay-request", "300", "x-envoy-fault-delay-request-percentage", "0"))
        .status()).isEqualTo(Status.CONTINUE);
    assertThat(counter("delays_injected")).isEqualTo(1);
  }

  @Test
  void maxActiveFaultsOverflows() {
    FaultConfig c = config("""
        abort: { http_status: 503, percentage: { numerator: 100 } }
        max_active_faults: 1
        """);
    Run first = run(c, request());
    assertThat(first.status()).isEqualTo(Status.STOP_ITERATION);
    Run second = run(c, request());
    assertThat(second.status()).isEqualTo(Status.CONTINUE);
    assertThat(second.cb().localReply).isNull();
    assertThat(counter("faults_overflow")).isEqualTo(1);
    first.filter().onDestroy();
    assertThat(run(c, request()).status()).isEqualTo(Status.STOP_ITERATION);
    assertThat(counter("aborts_injected")).isEqualTo(2);
  }

  @Test
  void headersAndDownstreamNodesMustMatch() {
    FaultConfig c = config("""
        abort: { http_status: 503, percentage: { numerator: 100 } }
        headers: [{ name: x-chaos, string_match: { exact: "on" } }]
        downstream_nodes: [node-a]
        """);
    assertThat(run(c, request("x-chaos", "on")).status()).isEqualTo(Status.CONTINUE);
    assertThat(run(c, request("x-envoy-downstream-service-node", "node-a")).status()).isEqualTo(Status.CONTINUE);
    assertThat(run(c, request("x-chaos", "on", "x-envoy-downstream-service-node", "node-b")).status())
        .isEqualTo(Status.CONTINUE);
    assertThat(run(c, request("x-chaos", "on", "x-envoy-downstream-service-node", "node-a")).status())
        .isEqualTo(Status.STOP_ITERATION);
  }

  @Test
  void downstreamClusterStats() {
    FaultConfig c = config("abort: { http_status: 503, percentage: { numerator: 100 } }");
    run(c, request("x-envoy-downstream-service-cluster", "svc"));
    run(c, request("x-envoy-downstream-service-cluster", "svc"));
    assertThat(counter("svc.aborts_injected")).isEqualTo(2);
    assertThat(counter("aborts_injected")).isEqualTo(2);

    FaultConfig off = config("""
        abort: { http_status: 503, percentage: { numerator: 100 } }
        disable_downstream_cluster_stats: true
        """);
    run(off, request("x-envoy-downstream-service-cluster", "other"));
    assertThat(stats.counters().stream().map(x -> x.name())).doesNotContain("http.ingress.fault.other.aborts_injected");
  }

  static RouteTable table(String yaml) {
    RouteConfiguration rc = ConfigLoader.parse(yaml, RouteConfiguration.newBuilder(), "test").build();
    return RouteTable.build(rc, "route_config", null, null);
  }

  @Test
  void upstreamClusterMustBeTheRoutesCluster() {
    FaultConfig c = config("""
        abort: { http_status: 503, percentage: { numerator: 100 } }
        upstream_cluster: a
        """);
    RouteTable t = table("""
        virtual_hosts:
        - name: vh
          domains: ["*"]
          routes:
          - match: { prefix: /a }
            route: { cluster: a }
          - match: { prefix: / }
            route: { cluster: b }
        """);
    Http2Headers toA = request().path("/a");
    Http2Headers toB = request().path("/b");
    FakeFilterCallbacks cb = new FakeFilterCallbacks();
    cb.route = t.route(toA, 0);
    FaultFilter f = new FaultFilter(c);
    f.setDecoderCallbacks(cb);
    assertThat(f.decodeHeaders(toA, true)).isEqualTo(Status.STOP_ITERATION);
    cb = new FakeFilterCallbacks();
    cb.route = t.route(toB, 0);
    f = new FaultFilter(c);
    f.setDecoderCallbacks(cb);
    assertThat(f.decodeHeaders(toB, true)).isEqualTo(Status.CONTINUE);
    assertThat(run(c, request()).status()).isEqualTo(Status.CONTINUE); // no route
  }

  @Test
  void theMostSpecificPerRouteConfigWins() {
    FaultConfig c = config("abort: { http_status: 503, percentage: { numerator: 100 } }");
    RouteTable t = table("""
        typed_per_filter_config:
          envoy.filters.http.fault:
            "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
            abort: { http_status: 501, percentage: { numerator: 100 } }
        virtual_hosts:
        - name: vh
          domains: ["*"]
          typed_per_filter_config:
            envoy.filters.http.fault:
              "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
              abort: { http_status: 502, percentage: { numerator: 100 } }
          routes:
          - match: { prefix: /route }
            route: { cluster: a }
            typed_per_filter_config:
              envoy.filters.http.fault:
                "@type": type.googleapis.com/envoy.config.route.v3.FilterConfig
                config:
                  "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
                  abort: { http_status: 418, percentage: { numerator: 100 } }
          - match: { prefix: /none }
            route: { cluster: a }
            typed_per_filter_config:
              envoy.filters.http.fault:
                "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
          - match: { prefix: / }
            route: { cluster: a }
        """);
    for (String[] pathAndStatus : new String[][] {{"/route", "418"}, {"/vh", "502"}}) {
      Http2Headers h = request().path(pathAndStatus[0]);
      FakeFilterCallbacks cb = new FakeFilterCallbacks();
      cb.route = t.route(h, 0);
      FaultFilter f = new FaultFilter(c);
      f.setDecoderCallbacks(cb);
      f.decodeHeaders(h, true);
      assertThat(cb.localReply.status()).as(pathAndStatus[0]).isEqualTo(Integer.parseInt(pathAndStatus[1]));
    }
    Http2Headers h = request().path("/none");
    FakeFilterCallbacks cb = new FakeFilterCallbacks();
    cb.route = t.route(h, 0);
    FaultFilter f = new FaultFilter(c);
    f.setDecoderCallbacks(cb);
    assertThat(f.decodeHeaders(h, true)).isEqualTo(Status.CONTINUE); // an empty HTTPFault: no fault
  }

  @Test
  void responseRateLimitPacesBody() {
    FaultConfig c = config("response_rate_limit: { fixed_limit: { limit_kbps: 1 }, percentage: { numerator: 100 } }");
    Run r = run(c, request());
    assertThat(r.status()).isEqualTo(Status.CONTINUE);
    assertThat(counter("response_rl_injected")).isEqualTo(1);
    assertThat(active()).isEqualTo(1);
    ByteBuf small = Unpooled.buffer().writeZero(64); // within the 1/16 s burst (64 bytes at 1024 B/s)
    assertThat(r.filter().encodeData(small, false)).isEqualTo(Status.CONTINUE);
    small.release();
    ByteBuf big = Unpooled.buffer().writeZero(1024);
    assertThat(r.filter().encodeData(big, true)).isEqualTo(Status.STOP_ITERATION);
    big.release();
    // 64 + 1024 bytes at 1024 B/s, less the 62.5 ms burst: 937.5 ms
    r.cb().advance(937);
    assertThat(r.cb().continueEncodingCalls).isZero();
    r.cb().advance(1);
    assertThat(r.cb().continueEncodingCalls).isEqualTo(1);
    r.filter().onDestroy();
    assertThat(active()).isZero();
  }

  @Test
  void headerThroughput() {
    FaultConfig c = config("response_rate_limit: { header_limit: {}, percentage: { numerator: 100 } }");
    assertThat(run(c, request()).filter().encodeData(Unpooled.EMPTY_BUFFER, true)).isEqualTo(Status.CONTINUE);
    assertThat(run(c, request("x-envoy-fault-throughput-response", "0")).filter()
        .encodeData(Unpooled.EMPTY_BUFFER, true)).isEqualTo(Status.CONTINUE);
    Run r = run(c, request("x-envoy-fault-throughput-response", "2"));
    ByteBuf b = Unpooled.buffer().writeZero(4096);
    assertThat(r.filter().encodeData(b, true)).isEqualTo(Status.STOP_ITERATION);
    b.release();
    assertThat(counter("response_rl_injected")).isEqualTo(1);
    r.filter().onDestroy();
  }

  @Test
  void limiterArithmetic() {
    FaultFilter.ResponseLimiter l = new FaultFilter.ResponseLimiter(1024, 0);
    assertThat(l.reserve(1024, 0)).isEqualTo(875_000_000L);
    assertThat(l.reserve(1024, 0)).isEqualTo(1_875_000_000L);
    // idle time earns at most the burst
    assertThat(l.reserve(64, 10_000_000_000L)).isEqualTo(0);
  }

  @Test
  void configErrorsNameTheField() {
    FaultFilterFactory factory = new FaultFilterFactory();
    assertThatThrownBy(() -> factory.create(Any.pack(proto("abort: { http_status: 700 }")), ctx, "hf"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("hf.typed_config.abort.http_status: value must be inside range [200, 600), got 700");
    assertThatThrownBy(() -> factory.create(Any.pack(proto("abort: { percentage: { numerator: 1 } }")), ctx, "hf"))
        .hasMessage("hf.typed_config.abort: one of http_status, grpc_status, header_abort must be set");
    assertThatThrownBy(() -> factory.create(Any.pack(proto("delay: { fixed_delay: 0s }")), ctx, "hf"))
        .hasMessage("hf.typed_config.delay.fixed_delay: value must be greater than 0s");
    assertThatThrownBy(() -> factory.create(Any.pack(proto("response_rate_limit: { percentage: {} }")), ctx, "hf"))
        .hasMessage("hf.typed_config.response_rate_limit: one of fixed_limit, header_limit must be set");
    assertThat(factory.create(Any.pack(proto("abort: { http_status: 503 }")), ctx, "hf").create())
        .isInstanceOf(FaultFilter.class);
  }

  @Test
  void parsesUnsignedHeaderValues() {
    assertThat(FaultFilter.parseUnsigned("42")).isEqualTo(42);
    assertThat(FaultFilter.parseUnsigned(" +7 ")).isEqualTo(7);
    assertThat(FaultFilter.parseUnsigned("-1")).isEqualTo(-1);
    assertThat(FaultFilter.parseUnsigned("")).isEqualTo(-1);
    assertThat(FaultFilter.parseUnsigned("1x")).isEqualTo(-1);
    assertThat(FaultFilter.parseUnsigned(null)).isEqualTo(-1);
  }
}
