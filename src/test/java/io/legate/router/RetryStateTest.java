package io.legate.router;

import static io.legate.router.Fixtures.req;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.legate.config.ConfigException;
import io.legate.stats.StatsStore;
import io.legate.upstream.CircuitBreakers;
import io.legate.upstream.ClusterStats;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.List;
import java.util.SplittableRandom;
import io.netty.util.AsciiString;
import org.junit.jupiter.api.Test;

class RetryStateTest {
  private final StatsStore store = new StatsStore();
  private final ClusterStats stats = new ClusterStats(store, "c");

  private static ForwardAction.RetryPolicy policy(String retryPolicyJson) {
    RouteTable t = Fixtures.routes("[{\"match\":{\"prefix\":\"/\"},\"route\":{\"cluster\":\"c\",\"retry_policy\":"
        + retryPolicyJson + "}}]");
    return ((ForwardAction) t.route(req("/"), 0).action()).retryPolicy();
  }

  private static Http2Headers response(int status, String... headers) {
    Http2Headers h = new DefaultHttp2Headers().status(Integer.toString(status));
    for (int i = 0; i < headers.length; i += 2) {
      h.add(headers[i], headers[i + 1]);
    }
    return h;
  }

  private CircuitBreakers.Resource retries(int max) {
    var cluster = io.envoyproxy.envoy.config.cluster.v3.Cluster.newBuilder().setName("c")
        .setCircuitBreakers(io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers.newBuilder()
            .addThresholds(io.envoyproxy.envoy.config.cluster.v3.CircuitBreakers.Thresholds.newBuilder()
                .setMaxRetries(com.google.protobuf.UInt32Value.of(max))))
        .build();
    return CircuitBreakers.build(cluster, "c", store.scope("cluster.c.")).forPriority(CircuitBreakers.Priority.DEFAULT).retries();
  }

  @Test
  void parsesRetryOnNamesAndIgnoresUnknownOnes() {
    assertThat(RetryState.parseRetryOn("5xx, gateway-error,connect-failure,bogus"))
        .isEqualTo(RetryState.RETRY_ON_5XX | RetryState.RETRY_ON_GATEWAY_ERROR | RetryState.RETRY_ON_CONNECT_FAILURE);
    assertThat(RetryState.parseRetryOn("retriable-4xx,refused-stream,retriable-status-codes,retriable-headers,reset,envoy-ratelimited"))
        .isEqualTo(RetryState.RETRY_ON_RETRIABLE_4XX | RetryState.RETRY_ON_REFUSED_STREAM
            | RetryState.RETRY_ON_RETRIABLE_STATUS_CODES | RetryState.RETRY_ON_RETRIABLE_HEADERS
            | RetryState.RETRY_ON_RESET | RetryState.RETRY_ON_ENVOY_RATE_LIMITED);
    assertThat(RetryState.parseRetryGrpcOn("cancelled,deadline-exceeded,internal,resource-exhausted,unavailable,5xx"))
        .isEqualTo(RetryState.RETRY_ON_GRPC_CANCELLED | RetryState.RETRY_ON_GRPC_DEADLINE_EXCEEDED
            | RetryState.RETRY_ON_GRPC_INTERNAL | RetryState.RETRY_ON_GRPC_RESOURCE_EXHAUSTED
            | RetryState.RETRY_ON_GRPC_UNAVAILABLE);
    // The route's retry_on takes gRPC names too.
    assertThat(policy("{\"retry_on\":\"5xx,unavailable\"}").retryOnMask())
        .isEqualTo(RetryState.RETRY_ON_5XX | RetryState.RETRY_ON_GRPC_UNAVAILABLE);
  }

  @Test
  void noPolicyAndNoHeaderMeansNoRetryState() {
    Http2Headers request = req("/", "x-envoy-max-retries", "3", "x-envoy-upstream-rq-per-try-timeout-ms", "5");
    assertThat(RetryState.create(null, request)).isNull();
    assertThat(request.contains("x-envoy-max-retries")).isFalse();
    assertThat(request.contains("x-envoy-upstream-rq-per-try-timeout-ms")).isFalse();
  }

  @Test
  void headersMergeWithThePolicyAndAreConsumed() {
    Http2Headers request = req("/", "x-envoy-retry-on", "5xx", "x-envoy-retry-grpc-on", "cancelled",
        "x-envoy-max-retries", "4", "x-envoy-retriable-status-codes", "418,x",
        "x-envoy-retriable-header-names", "X-Retry-Me");
    RetryState s = RetryState.create(policy("{\"retry_on\":\"connect-failure\"}"), request);
    assertThat(s.retryOn()).isEqualTo(RetryState.RETRY_ON_5XX | RetryState.RETRY_ON_CONNECT_FAILURE
        | RetryState.RETRY_ON_GRPC_CANCELLED);
    assertThat(s.retriesRemaining()).isEqualTo(4);
    for (String h : List.of("x-envoy-retry-on", "x-envoy-retry-grpc-on", "x-envoy-max-retries",
        "x-envoy-retriable-status-codes", "x-envoy-retriable-header-names")) {
      assertThat(request.contains(h)).as(h).isFalse();
    }
    // Header-only retries use Envoy's default policy: one retry.
    RetryState d = RetryState.create(null, req("/", "x-envoy-retry-on", "retriable-status-codes,retriable-headers",
        "x-envoy-retriable-status-codes", "418", "x-envoy-retriable-header-names", "X-Retry-Me"));
    assertThat(d.retriesRemaining()).isEqualTo(1);
    assertThat(d.wouldRetryFromHeaders(response(418), 418)).isTrue();
    assertThat(d.wouldRetryFromHeaders(response(200, "x-retry-me", "1"), 200)).isTrue();
    assertThat(d.wouldRetryFromHeaders(response(503), 503)).isFalse();
  }

  @Test
  void retriableRequestHeadersGateRetries() {
    ForwardAction.RetryPolicy p = policy("{\"retry_on\":\"5xx\",\"retriable_request_headers\":[{\"name\":\":method\",\"string_match\":{\"exact\":\"GET\"}}]}");
    assertThat(RetryState.create(p, req("/"))).isNotNull();
    Http2Headers post = req("/");
    post.method("POST");
    assertThat(RetryState.create(p, post)).isNull();
  }

  @Test
  void responseConditionsAreEnvoys() {
    RetryState fiveXx = RetryState.create(policy("{\"retry_on\":\"5xx\"}"), req("/"));
    assertThat(fiveXx.wouldRetryFromHeaders(response(500), 500)).isTrue();
    assertThat(fiveXx.wouldRetryFromHeaders(response(404), 404)).isFalse();
    // A rate-limited answer from an upstream Envoy is retried only on envoy-ratelimited.
    assertThat(fiveXx.wouldRetryFromHeaders(response(503, "x-envoy-ratelimited", "true"), 503)).isFalse();
    RetryState limited = RetryState.create(policy("{\"retry_on\":\"envoy-ratelimited\"}"), req("/"));
    assertThat(limited.wouldRetryFromHeaders(response(429, "x-envoy-ratelimited", "true"), 429)).isTrue();

    RetryState gw = RetryState.create(policy("{\"retry_on\":\"gateway-error\"}"), req("/"));
    assertThat(gw.wouldRetryFromHeaders(response(500), 500)).isFalse();
    assertThat(gw.wouldRetryFromHeaders(response(502), 502)).isTrue();
    assertThat(gw.wouldRetryFromHeaders(response(504), 504)).isTrue();

    RetryState r4 = RetryState.create(policy("{\"retry_on\":\"retriable-4xx\"}"), req("/"));
    assertThat(r4.wouldRetryFromHeaders(response(409), 409)).isTrue();
    assertThat(r4.wouldRetryFromHeaders(response(429), 429)).isFalse();

    RetryState codes = RetryState.create(
        policy("{\"retry_on\":\"retriable-status-codes\",\"retriable_status_codes\":[418]}"), req("/"));
    assertThat(codes.wouldRetryFromHeaders(response(418), 418)).isTrue();
    assertThat(codes.wouldRetryFromHeaders(response(503), 503)).isFalse();

    RetryState headers = RetryState.create(policy("{\"retry_on\":\"retriable-headers\","
        + "\"retriable_headers\":[{\"name\":\"x-upstream-pushback\",\"present_match\":true}]}"), req("/"));
    assertThat(headers.wouldRetryFromHeaders(response(200, "x-upstream-pushback", "1"), 200)).isTrue();
    assertThat(headers.wouldRetryFromHeaders(response(500), 500)).isFalse();

    RetryState grpc = RetryState.create(policy("{\"retry_on\":\"unavailable,cancelled\"}"), req("/"));
    assertThat(grpc.wouldRetryFromHeaders(response(200, "grpc-status", "14"), 200)).isTrue();
    assertThat(grpc.wouldRetryFromHeaders(response(200, "grpc-status", "1"), 200)).isTrue();
    assertThat(grpc.wouldRetryFromHeaders(response(200, "grpc-status", "13"), 200)).isFalse();
    assertThat(grpc.wouldRetryFromHeaders(response(200), 200)).isFalse();
  }

  @Test
  void resetConditionsAreEnvoys() {
    RetryState cf = RetryState.create(policy("{\"retry_on\":\"connect-failure\"}"), req("/"));
    assertThat(cf.wouldRetryFromReset(RetryState.ResetKind.CONNECT_FAILURE)).isTrue();
    assertThat(cf.wouldRetryFromReset(RetryState.ResetKind.REMOTE_RESET)).isFalse();
    assertThat(cf.wouldRetryFromReset(RetryState.ResetKind.LOCAL_RESET)).isFalse();
    for (String on : List.of("5xx", "gateway-error", "reset")) {
      RetryState s = RetryState.create(policy("{\"retry_on\":\"" + on + "\"}"), req("/"));
      assertThat(s.wouldRetryFromReset(RetryState.ResetKind.REMOTE_RESET)).as(on).isTrue();
      assertThat(s.wouldRetryFromReset(RetryState.ResetKind.LOCAL_RESET)).as(on).isTrue();
      assertThat(s.wouldRetryFromReset(RetryState.ResetKind.CONNECT_FAILURE)).as(on).isTrue();
      assertThat(s.wouldRetryFromReset(RetryState.ResetKind.OVERFLOW)).as(on).isFalse();
    }
    RetryState refused = RetryState.create(policy("{\"retry_on\":\"refused-stream\"}"), req("/"));
    assertThat(refused.wouldRetryFromReset(RetryState.ResetKind.REMOTE_REFUSED_STREAM)).isTrue();
    assertThat(refused.wouldRetryFromReset(RetryState.ResetKind.REMOTE_RESET)).isFalse();
  }

  @Test
  void shouldRetryCountsAndHoldsTheRetryBreaker() {
    CircuitBreakers.Resource budget = retries(3);
    RetryState s = RetryState.create(policy("{\"retry_on\":\"5xx\",\"num_retries\":2}"), req("/"));
    SplittableRandom random = new SplittableRandom(1);
    assertThat(s.shouldRetry(true, budget, stats, random)).isEqualTo(RetryState.Status.YES);
    assertThat(budget.count()).isEqualTo(1);
    assertThat(s.backOffMs()).isBetween(0L, 24L);
    assertThat(s.shouldRetry(true, budget, stats, random)).isEqualTo(RetryState.Status.YES);
    assertThat(budget.count()).isEqualTo(1);
    assertThat(s.backOffMs()).isBetween(0L, 49L);
    assertThat(s.shouldRetry(true, budget, stats, random)).isEqualTo(RetryState.Status.NO_RETRY_LIMIT_EXCEEDED);
    assertThat(budget.count()).isZero();
    assertThat(stats.upstreamRqRetry.value()).isEqualTo(2);
    assertThat(stats.upstreamRqRetryBackoffExponential.value()).isEqualTo(2);
    assertThat(stats.upstreamRqRetryLimitExceeded.value()).isEqualTo(1);
    assertThat(stats.upstreamRqRetrySuccess.value()).isZero();

    RetryState ok = RetryState.create(policy("{\"retry_on\":\"5xx\"}"), req("/"));
    assertThat(ok.shouldRetry(true, budget, stats, random)).isEqualTo(RetryState.Status.YES);
    assertThat(ok.shouldRetry(false, budget, stats, random)).isEqualTo(RetryState.Status.NO);
    assertThat(stats.upstreamRqRetrySuccess.value()).isEqualTo(1);
    assertThat(budget.count()).isZero();
  }

  @Test
  void retryOverflowWhenTheBreakerIsOpen() {
    CircuitBreakers.Resource budget = retries(0);
    RetryState s = RetryState.create(policy("{\"retry_on\":\"5xx\",\"num_retries\":2}"), req("/"));
    assertThat(s.shouldRetry(true, budget, stats, new SplittableRandom(1))).isEqualTo(RetryState.Status.NO_OVERFLOW);
    assertThat(stats.upstreamRqRetryOverflow.value()).isEqualTo(1);
    assertThat(s.retriesRemaining()).isEqualTo(1);
    assertThat(stats.upstreamRqRetry.value()).isZero();
  }

  @Test
  void backOffIsFullyJitteredAndCapped() {
    RetryState s = RetryState.create(policy("{\"retry_on\":\"5xx\",\"retry_back_off\":{\"base_interval\":\"0.1s\",\"max_interval\":\"0.3s\"}}"), req("/"));
    SplittableRandom random = new SplittableRandom(7);
    long[] bounds = {100, 200, 300, 300, 300};
    for (long bound : bounds) {
      assertThat(s.nextBackOffMs(random)).isBetween(0L, bound - 1);
    }
    // Full jitter reaches both ends of the interval.
    RetryState t = RetryState.create(policy("{\"retry_on\":\"5xx\",\"retry_back_off\":{\"base_interval\":\"0.002s\",\"max_interval\":\"0.002s\"}}"), req("/"));
    boolean zero = false;
    boolean one = false;
    for (int i = 0; i < 100; i++) {
      long v = t.nextBackOffMs(random);
      zero |= v == 0;
      one |= v == 1;
    }
    assertThat(zero && one).isTrue();
  }

  @Test
  void retryPolicyFieldsAndRefusals() {
    ForwardAction.RetryPolicy p = policy("{\"retry_on\":\"reset\",\"host_selection_retry_max_attempts\":\"3\","
        + "\"retry_host_predicate\":[{\"name\":\"envoy.retry_host_predicates.previous_hosts\"}]}");
    assertThat(p.previousHosts()).isTrue();
    assertThat(p.hostSelectionRetryMaxAttempts()).isEqualTo(3);
    String base = "[{\"match\":{\"prefix\":\"/\"},\"route\":{\"cluster\":\"c\",";
    assertThatThrownBy(() -> Fixtures.routes(base + "\"retry_policy\":{\"retry_host_predicate\":[{\"name\":\"envoy.retry_host_predicates.omit_canary_hosts\"}]}}}]"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("route_config.virtual_hosts[0].routes[0].route.retry_policy.retry_host_predicate[0]:"
            + " unsupported retry host predicate 'envoy.retry_host_predicates.omit_canary_hosts'");
    ForwardAction.RetryPolicy rl = policy("{\"retry_on\":\"5xx\",\"per_try_idle_timeout\":\"1.5s\","
        + "\"rate_limited_retry_back_off\":{\"reset_headers\":[{\"name\":\"Retry-After\"},"
        + "{\"name\":\"x-ratelimit-reset\",\"format\":\"UNIX_TIMESTAMP\"}],\"max_interval\":\"20s\"},"
        + "\"retry_priority\":{\"name\":\"envoy.retry_priorities.previous_priorities\",\"typed_config\":{"
        + "\"@type\":\"type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig\","
        + "\"update_frequency\":2}}}");
    assertThat(rl.perTryIdleTimeoutMs()).isEqualTo(1500);
    assertThat(rl.resetHeaders()).containsExactly(
        new ForwardAction.ResetHeader(AsciiString.of("retry-after"), false),
        new ForwardAction.ResetHeader(AsciiString.of("x-ratelimit-reset"), true));
    assertThat(rl.resetMaxIntervalMs()).isEqualTo(20_000);
    assertThat(rl.retryPriorityUpdateFrequency()).isEqualTo(2);
    assertThat(policy("{\"retry_on\":\"5xx\",\"rate_limited_retry_back_off\":{\"reset_headers\":[{\"name\":\"a\"}]}}")
        .resetMaxIntervalMs()).isEqualTo(300_000);
    assertThatThrownBy(() -> Fixtures.routes(base + "\"retry_policy\":{\"retry_priority\":{\"name\":\"envoy.retry_priorities.other\"}}}}]"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("route_config.virtual_hosts[0].routes[0].route.retry_policy.retry_priority:"
            + " unsupported retry priority 'envoy.retry_priorities.other'; supported: envoy.retry_priorities.previous_priorities");
    assertThatThrownBy(() -> Fixtures.routes(base + "\"hedge_policy\":{\"initial_requests\":2}}}]"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("route_config.virtual_hosts[0].routes[0].route.hedge_policy.initial_requests: only 1 is supported");
  }

  @Test
  void priorityAndAttemptCountSettingsReachTheAction() {
    RouteTable t = Fixtures.table("{\"virtual_hosts\":[{\"name\":\"v\",\"domains\":[\"*\"],"
        + "\"include_request_attempt_count\":true,\"include_attempt_count_in_response\":true,"
        + "\"routes\":[{\"match\":{\"prefix\":\"/\"},\"route\":{\"cluster\":\"c\",\"priority\":\"HIGH\"}}]}]}");
    ForwardAction a = (ForwardAction) t.route(req("/"), 0).action();
    assertThat(a.highPriority()).isTrue();
    assertThat(a.includeRequestAttemptCount()).isTrue();
    assertThat(a.includeAttemptCountInResponse()).isTrue();
    ForwardAction d = (ForwardAction) Fixtures.routes("[{\"match\":{\"prefix\":\"/\"},\"route\":{\"cluster\":\"c\"}}]")
        .route(req("/"), 0).action();
    assertThat(d.highPriority()).isFalse();
    assertThat(d.includeRequestAttemptCount()).isFalse();
  }

  @Test
  void rateLimitedBackOffUsesTheFirstHeaderWithinMaxInterval() {
    ForwardAction.RetryPolicy p = policy("{\"retry_on\":\"5xx\",\"num_retries\":5,"
        + "\"rate_limited_retry_back_off\":{\"reset_headers\":[{\"name\":\"retry-after\"},"
        + "{\"name\":\"x-reset\",\"format\":\"UNIX_TIMESTAMP\"}],\"max_interval\":\"10s\"}}");
    RetryState s = RetryState.create(p, req("/"));
    CircuitBreakers.Resource r = retries(10);
    java.util.Random random = new java.util.Random(7);
    long now = 1_700_000_000_000L;
    // Retry-After: 2 → [2000, 3000).
    s.parseResetInterval(response(503, "retry-after", "2", "x-reset", Long.toString(now / 1000 + 5)), now);
    assertThat(s.shouldRetry(true, r, stats, random)).isEqualTo(RetryState.Status.YES);
    assertThat(s.backOffMs()).isBetween(2000L, 2999L);
    assertThat(stats.upstreamRqRetryBackoffRatelimited.value()).isEqualTo(1);
    assertThat(stats.upstreamRqRetryBackoffExponential.value()).isZero();
    // Retry-After over max_interval is skipped; the Unix timestamp 5 s ahead is used.
    s.parseResetInterval(response(503, "retry-after", "11", "x-reset", Long.toString(now / 1000 + 5)), now);
    assertThat(s.shouldRetry(true, r, stats, random)).isEqualTo(RetryState.Status.YES);
    assertThat(s.backOffMs()).isBetween(5000L, 7499L);
    // A timestamp in the past and a malformed value: the exponential back-off (25 ms base).
    s.parseResetInterval(response(503, "retry-after", "soon", "x-reset", Long.toString(now / 1000 - 5)), now);
    assertThat(s.shouldRetry(true, r, stats, random)).isEqualTo(RetryState.Status.YES);
    assertThat(s.backOffMs()).isLessThan(25);
    assertThat(stats.upstreamRqRetryBackoffRatelimited.value()).isEqualTo(2);
    assertThat(stats.upstreamRqRetryBackoffExponential.value()).isEqualTo(1);
  }

  @Test
  void previousPrioritiesMovesLoadOffTriedLevels() {
    int[] original = {100, 0, 0};
    int[] health = {100, 100, 40};
    PreviousPriorities every = new PreviousPriorities(1);
    assertThat(every.determinePriorityLoad(original, health)).isSameAs(original);
    every.onHostAttempted(0);
    // P0 excluded: P1 and P2 share by health (100 + 40, capped at 100).
    assertThat(every.determinePriorityLoad(original, health)).containsExactly(0, 100, 0);
    every.onHostAttempted(1);
    assertThat(every.determinePriorityLoad(original, health)).containsExactly(0, 0, 100);
    every.onHostAttempted(2);
    // Every level tried: exclusions start over.
    assertThat(every.determinePriorityLoad(original, health)).containsExactly(100, 0, 0);

    PreviousPriorities second = new PreviousPriorities(2);
    second.onHostAttempted(0);
    assertThat(second.determinePriorityLoad(original, health)).isSameAs(original);
    second.onHostAttempted(0);
    assertThat(second.determinePriorityLoad(original, new int[] {100, 50, 30})).containsExactly(0, 63, 37);
    // No level has any health: the balancer's own load.
    assertThat(second.determinePriorityLoad(original, new int[] {0, 0, 0})).isSameAs(original);
  }
}
