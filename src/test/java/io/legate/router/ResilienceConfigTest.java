package io.legate.router;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.legate.config.ConfigException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** rate_limits, hedge_policy, max_stream_duration and hash cookie settings parsed from routes. */
class ResilienceConfigTest {
  private static final String VH = "{\"virtual_hosts\":[{\"name\":\"vh\",\"domains\":[\"*\"],";

  private static List<List<String>> populate(RateLimitPolicy p, int stage, io.netty.handler.codec.http2.Http2Headers h) {
    List<List<RateLimitPolicy.DescriptorEntry>> out = new ArrayList<>();
    p.populateDescriptors(stage, new RateLimitPolicy.RequestContext(h,
        new InetSocketAddress("10.1.2.3", 4000), "local", "target"), out);
    return out.stream().map(d -> d.stream().map(e -> e.key() + "=" + e.value()).toList()).toList();
  }

  @Test
  void rateLimitActionsBuildDescriptors() {
    RouteTable t = Fixtures.table(VH + "\"rate_limits\":[{\"actions\":[{\"generic_key\":{\"descriptor_value\":\"vh\"}}]}],"
        + "\"routes\":[{\"match\":{\"prefix\":\"/\"},\"route\":{\"cluster\":\"c\",\"include_vh_rate_limits\":true,"
        + "\"rate_limits\":["
        + "{\"actions\":[{\"request_headers\":{\"header_name\":\"X-User\",\"descriptor_key\":\"user\"}},{\"remote_address\":{}}]},"
        + "{\"actions\":[{\"request_headers\":{\"header_name\":\"x-opt\",\"descriptor_key\":\"opt\",\"skip_if_absent\":true}},"
        + "{\"destination_cluster\":{}},{\"source_cluster\":{}}]},"
        + "{\"actions\":[{\"header_value_match\":{\"descriptor_value\":\"not-get\",\"expect_match\":false,"
        + "\"headers\":[{\"name\":\":method\",\"string_match\":{\"exact\":\"GET\"}}]}}]},"
        + "{\"stage\":2,\"actions\":[{\"generic_key\":{\"descriptor_key\":\"s\",\"descriptor_value\":\"two\"}}]}"
        + "]}}]}]}");
    Route r = t.route(Fixtures.req("/x", "x-user", "ann"), 0);
    assertThat(r.includeVirtualHostRateLimits()).isTrue();
    assertThat(populate(r.rateLimitPolicy(), 0, Fixtures.req("/x", "x-user", "ann")))
        .containsExactly(List.of("user=ann", "remote_address=10.1.2.3"),
            List.of("destination_cluster=target", "source_cluster=local"));
    assertThat(populate(r.rateLimitPolicy(), 0, Fixtures.req("/x")))
        .containsExactly(List.of("destination_cluster=target", "source_cluster=local"));
    var post = Fixtures.req("/x");
    post.method("POST");
    assertThat(populate(r.rateLimitPolicy(), 0, post))
        .containsExactly(List.of("destination_cluster=target", "source_cluster=local"), List.of("header_match=not-get"));
    assertThat(populate(r.rateLimitPolicy(), 2, post)).containsExactly(List.of("s=two"));
    assertThat(populate(r.virtualHostRateLimitPolicy(), 0, post)).containsExactly(List.of("generic_key=vh"));
  }

  @Test
  void unsupportedRateLimitActionsAreRefused() {
    assertThatThrownBy(() -> Fixtures.routes("[{\"match\":{\"prefix\":\"/\"},\"route\":{\"cluster\":\"c\","
        + "\"rate_limits\":[{\"actions\":[{\"metadata\":{\"descriptor_key\":\"k\",\"metadata_key\":{\"key\":\"a\",\"path\":[{\"key\":\"b\"}]}}}]}]}}]"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("route_config.virtual_hosts[0].routes[0].route.rate_limits[0].actions[0].metadata: not supported");
    assertThatThrownBy(() -> Fixtures.table(VH + "\"rate_limits\":[{\"actions\":[{\"generic_key\":{}}]}],\"routes\":[]}]}"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("route_config.virtual_hosts[0].rate_limits[0].actions[0].generic_key.descriptor_value: must not be empty");
  }

  @Test
  void hedgeAndStreamDurationSettings() {
    RouteTable t = Fixtures.table(VH + "\"hedge_policy\":{\"hedge_on_per_try_timeout\":true},"
        + "\"routes\":[{\"match\":{\"prefix\":\"/a\"},\"route\":{\"cluster\":\"c\","
        + "\"max_stream_duration\":{\"max_stream_duration\":\"2s\",\"grpc_timeout_header_max\":\"0s\",\"grpc_timeout_header_offset\":\"0.05s\"}}},"
        + "{\"match\":{\"prefix\":\"/\"},\"route\":{\"cluster\":\"c\",\"hedge_policy\":{}}}]}]}");
    ForwardAction a = (ForwardAction) t.route(Fixtures.req("/a"), 0).action();
    assertThat(a.resilience()).isEqualTo(new ForwardAction.Resilience(0, 50, true));
    assertThat(a.maxStreamDurationMs()).isEqualTo(2000);
    ForwardAction b = (ForwardAction) t.route(Fixtures.req("/b"), 0).action();
    assertThat(b.resilience()).isEqualTo(ForwardAction.Resilience.NONE);
    assertThatThrownBy(() -> Fixtures.table(VH + "\"hedge_policy\":{\"additional_request_chance\":{\"numerator\":10}},\"routes\":[]}]}"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("route_config.virtual_hosts[0].hedge_policy.additional_request_chance: only 0 is supported");
  }

  @Test
  void grpcTimeoutHeaderValues() {
    assertThat(GrpcTimeout.parseMillis("1H")).isEqualTo(3_600_000);
    assertThat(GrpcTimeout.parseMillis("2M")).isEqualTo(120_000);
    assertThat(GrpcTimeout.parseMillis("3S")).isEqualTo(3000);
    assertThat(GrpcTimeout.parseMillis("250m")).isEqualTo(250);
    assertThat(GrpcTimeout.parseMillis("1500u")).isEqualTo(2);
    assertThat(GrpcTimeout.parseMillis("1n")).isEqualTo(1);
    assertThat(GrpcTimeout.parseMillis("123456789S")).isEqualTo(-1);
    assertThat(GrpcTimeout.parseMillis("5x")).isEqualTo(-1);
    assertThat(GrpcTimeout.parseMillis("m")).isEqualTo(-1);
  }

  @Test
  void hashCookieGeneration() {
    RouteTable t = Fixtures.routes("[{\"match\":{\"prefix\":\"/\"},\"route\":{\"cluster\":\"c\","
        + "\"hash_policy\":[{\"cookie\":{\"name\":\"s\",\"ttl\":\"60s\",\"path\":\"/p\"}}]}}]");
    ForwardAction a = (ForwardAction) t.route(Fixtures.req("/"), 0).action();
    assertThat(a.hashPolicies()).containsExactly(new ForwardAction.HashPolicy("cookie", "s", false, 60_000, "/p"));
    InetSocketAddress remote = new InetSocketAddress("10.0.0.1", 5000);
    InetSocketAddress local = new InetSocketAddress("10.0.0.2", 80);
    List<String> set = new ArrayList<>();
    long h1 = RequestHash.compute(a.hashPolicies(), Fixtures.req("/"), remote, local, set);
    assertThat(set).hasSize(1);
    String value = set.get(0).substring(3, 19);
    assertThat(set.get(0)).isEqualTo("s=\"" + value + "\"; Max-Age=60; Path=/p; HttpOnly");
    assertThat(value).isEqualTo(String.format("%016x", io.legate.upstream.XxHash64.hash("10.0.0.1:500010.0.0.2:80")));
    List<String> none = new ArrayList<>();
    assertThat(RequestHash.compute(a.hashPolicies(), Fixtures.req("/", "cookie", "s=" + value), remote, local, none))
        .isEqualTo(h1);
    assertThat(none).isEmpty();
  }
}
