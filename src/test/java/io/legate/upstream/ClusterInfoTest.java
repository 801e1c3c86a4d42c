package io.legate.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.legate.config.ConfigException;
import io.legate.stats.StatsStore;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class ClusterInfoTest {
  private static final String PATH = "static_resources.clusters[2]";
  private final StatsStore store = new StatsStore();

  private ClusterInfo build(String yaml) {
    return ClusterInfo.build(Yaml.cluster(yaml), PATH, store);
  }

  private void assertError(String yaml, String message) {
    assertThatThrownBy(() -> build(yaml))
        .isInstanceOf(ConfigException.class)
        .hasMessage(message);
  }

  @Test
  void defaults() {
    ClusterInfo info = build("name: backend\n");
    assertThat(info.name()).isEqualTo("backend");
    assertThat(info.type()).isEqualTo(ClusterInfo.DiscoveryType.STATIC);
    assertThat(info.connectTimeoutMs()).isEqualTo(5000);
    assertThat(info.perConnectionBufferLimitBytes()).isEqualTo(1048576);
    assertThat(info.protocol()).isEqualTo(UpstreamProtocol.HTTP1);
    assertThat(info.autoHttp()).isFalse();
    assertThat(info.idleTimeoutMs()).isEqualTo(3_600_000);
    assertThat(info.maxRequestsPerConnection()).isZero();
    assertThat(info.http2MaxConcurrentStreams()).isEqualTo(2147483647);
    assertThat(info.http2InitialStreamWindowSize()).isEqualTo(268435456);
    assertThat(info.http2InitialConnectionWindowSize()).isEqualTo(268435456);
    assertThat(info.dnsRefreshRateMs()).isEqualTo(5000);
    assertThat(info.dnsFailureRefreshBaseMs()).isEqualTo(-1);
    assertThat(info.dnsLookupFamily()).isEqualTo(DnsLookupFamily.AUTO);
    assertThat(info.respectDnsTtl()).isFalse();
    assertThat(info.waitForWarmOnInit()).isTrue();
    assertThat(info.edsServiceName()).isEqualTo("backend");
    assertThat(info.proto().getName()).isEqualTo("backend");
    LbFactory lb = (LbFactory) info.lbFactory();
    assertThat(lb.policy()).isEqualTo(LbFactory.Policy.ROUND_ROBIN);
    assertThat(lb.panicThreshold()).isEqualTo(50);
    assertThat(info.stats().upstreamRqTotal.name()).isEqualTo("cluster.backend.upstream_rq_total");
    assertThat(info.maxResponseHeadersCount()).isEqualTo(100);
    assertThat(info.maxResponseHeadersBytes()).isEqualTo(80 * 1024);
  }

  @Test
  void responseHeaderLimits() {
    String opts =
        "typed_extension_protocol_options:\n  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:\n"
            + "    '@type': type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions\n"
            + "    explicit_http_config: { http2_protocol_options: {} }\n";
    ClusterInfo h2 = build("name: a\n" + opts);
    assertThat(h2.maxResponseHeadersBytes()).isEqualTo(60 * 1024);
    ClusterInfo set =
        build("name: a\n" + opts + "    common_http_protocol_options: { max_headers_count: 7, max_response_headers_kb: 9 }\n");
    assertThat(set.maxResponseHeadersCount()).isEqualTo(7);
    assertThat(set.maxResponseHeadersBytes()).isEqualTo(9 * 1024);
    assertThat(build("name: a\ncommon_http_protocol_options: { max_headers_count: 3 }\n").maxResponseHeadersCount()).isEqualTo(3);
    assertError(
        "name: a\n" + opts + "    common_http_protocol_options: { max_headers_count: 0 }\n",
        PATH + ".typed_extension_protocol_options[\"envoy.extensions.upstreams.http.v3.HttpProtocolOptions\"]"
            + ".common_http_protocol_options.max_headers_count: value must be greater than or equal to 1");
    assertError(
        "name: a\ncommon_http_protocol_options: { max_response_headers_kb: 9000 }\n",
        PATH + ".common_http_protocol_options.max_response_headers_kb: value must be in [1, 8192]");
  }

  @Test
  void connectionSettings() {
    ClusterInfo info =
        build(
            "name: a\nconnect_timeout: 0.25s\nper_connection_buffer_limit_bytes: 32768\n"
                + "type: STRICT_DNS\ndns_refresh_rate: 2s\ndns_lookup_family: V4_ONLY\n"
                + "respect_dns_ttl: true\ndns_jitter: 0.1s\n"
                + "dns_failure_refresh_rate: {base_interval: 1s, max_interval: 8s}\n"
                + "dns_resolvers: [{socket_address: {address: 127.0.0.1, port_value: 5353}}]\n"
                + "alt_stat_name: alt\n");
    assertThat(info.connectTimeoutMs()).isEqualTo(250);
    assertThat(info.perConnectionBufferLimitBytes()).isEqualTo(32768);
    assertThat(info.type()).isEqualTo(ClusterInfo.DiscoveryType.STRICT_DNS);
    assertThat(info.dnsRefreshRateMs()).isEqualTo(2000);
    assertThat(info.dnsLookupFamily()).isEqualTo(DnsLookupFamily.V4_ONLY);
    assertThat(info.respectDnsTtl()).isTrue();
    assertThat(info.dnsJitterMs()).isEqualTo(100);
    assertThat(info.dnsFailureRefreshBaseMs()).isEqualTo(1000);
    assertThat(info.dnsFailureRefreshMaxMs()).isEqualTo(8000);
    assertThat(info.dnsResolvers()).containsExactly(new InetSocketAddress("127.0.0.1", 5353));
    assertThat(info.stats().upstreamRqTotal.name()).isEqualTo("cluster.alt.upstream_rq_total");
  }

  @Test
  void dnsClusterExtension() {
    String type =
        "cluster_type:\n  name: envoy.cluster.dns\n  typed_config:\n"
            + "    '@type': type.googleapis.com/envoy.extensions.clusters.dns.v3.DnsCluster\n";
    ClusterInfo strict =
        build(
            "name: a\n"
                + type
                + "    dns_refresh_rate: 3s\n    respect_dns_ttl: true\n"
                + "    dns_lookup_family: V6_ONLY\n    dns_jitter: 0.5s\n"
                + "    dns_failure_refresh_rate: {base_interval: 2s}\n");
    assertThat(strict.type()).isEqualTo(ClusterInfo.DiscoveryType.STRICT_DNS);
    assertThat(strict.dnsRefreshRateMs()).isEqualTo(3000);
    assertThat(strict.respectDnsTtl()).isTrue();
    assertThat(strict.dnsLookupFamily()).isEqualTo(DnsLookupFamily.V6_ONLY);
    assertThat(strict.dnsJitterMs()).isEqualTo(500);
    assertThat(strict.dnsFailureRefreshBaseMs()).isEqualTo(2000);
    assertThat(strict.dnsFailureRefreshMaxMs()).isEqualTo(20000);
    ClusterInfo logical =
        build("name: a\n" + type + "    all_addresses_in_single_endpoint: true\n");
    assertThat(logical.type()).isEqualTo(ClusterInfo.DiscoveryType.LOGICAL_DNS);
    assertThat(logical.dnsRefreshRateMs()).isEqualTo(5000);
    assertThat(logical.dnsLookupFamily()).isEqualTo(DnsLookupFamily.AUTO);
    assertError(
        "name: a\n" + type + "    dns_refresh_rate: 0s\n",
        "static_resources.clusters[2].cluster_type.typed_config.dns_refresh_rate: value must be"
            + " greater than 1ms");
  }

  @Test
  void failureRefreshMaxDefaultsToTenTimesBase() {
    ClusterInfo info = build("name: a\ndns_failure_refresh_rate: {base_interval: 2s}\n");
    assertThat(info.dnsFailureRefreshMaxMs()).isEqualTo(20000);
  }

  @Test
  void explicitHttp2WithOptions() {
    ClusterInfo info =
        build(
            "name: a\n"
                + "typed_extension_protocol_options:\n"
                + "  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:\n"
                + "    '@type': type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions\n"
                + "    common_http_protocol_options: {idle_timeout: 30s, max_requests_per_connection: 7}\n"
                + "    explicit_http_config:\n"
                + "      http2_protocol_options:\n"
                + "        max_concurrent_streams: 100\n"
                + "        initial_stream_window_size: 65536\n"
                + "        initial_connection_window_size: 1048576\n");
    assertThat(info.protocol()).isEqualTo(UpstreamProtocol.HTTP2);
    assertThat(info.idleTimeoutMs()).isEqualTo(30_000);
    assertThat(info.maxRequestsPerConnection()).isEqualTo(7);
    assertThat(info.http2MaxConcurrentStreams()).isEqualTo(100);
    assertThat(info.http2InitialStreamWindowSize()).isEqualTo(65536);
    assertThat(info.http2InitialConnectionWindowSize()).isEqualTo(1048576);
  }

  private ClusterInfo withOptions(String options) {
    return build(
        "name: a\n"
            + "typed_extension_protocol_options:\n"
            + "  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:\n"
            + "    '@type': type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions\n"
            + options);
  }

  @Test
  void explicitHttp1() {
    ClusterInfo info = withOptions("    explicit_http_config: {http_protocol_options: {}}\n");
    assertThat(info.protocol()).isEqualTo(UpstreamProtocol.HTTP1);
  }

  @Test
  void useDownstreamProtocol() {
    ClusterInfo info =
        withOptions(
            "    use_downstream_protocol_config:\n"
                + "      http2_protocol_options: {max_concurrent_streams: 5}\n");
    assertThat(info.protocol()).isEqualTo(UpstreamProtocol.USE_DOWNSTREAM);
    assertThat(info.http2MaxConcurrentStreams()).isEqualTo(5);
  }

  @Test
  void autoConfigIsHttp1WithAlpnFlag() {
    ClusterInfo info = withOptions("    auto_config: {http2_protocol_options: {}}\n");
    assertThat(info.protocol()).isEqualTo(UpstreamProtocol.HTTP1);
    assertThat(info.autoHttp()).isTrue();
  }

  @Test
  void deprecatedClusterFields() {
    ClusterInfo info =
        build(
            "name: a\nhttp2_protocol_options: {max_concurrent_streams: 9}\n"
                + "common_http_protocol_options: {idle_timeout: 5s}\n"
                + "max_requests_per_connection: 3\n");
    assertThat(info.protocol()).isEqualTo(UpstreamProtocol.HTTP2);
    assertThat(info.http2MaxConcurrentStreams()).isEqualTo(9);
    assertThat(info.idleTimeoutMs()).isEqualTo(5000);
    assertThat(info.maxRequestsPerConnection()).isEqualTo(3);
    assertThat(build("name: a\nprotocol_selection: USE_DOWNSTREAM_PROTOCOL\n").protocol())
        .isEqualTo(UpstreamProtocol.USE_DOWNSTREAM);
  }

  @Test
  void leastRequestSettings() {
    ClusterInfo info =
        build(
            "name: a\nlb_policy: LEAST_REQUEST\n"
                + "least_request_lb_config:\n"
                + "  choice_count: 3\n"
                + "  active_request_bias: {default_value: 0.5, runtime_key: k}\n"
                + "common_lb_config: {healthy_panic_threshold: {value: 25}}\n");
    LbFactory lb = (LbFactory) info.lbFactory();
    assertThat(lb.policy()).isEqualTo(LbFactory.Policy.LEAST_REQUEST);
    assertThat(lb.choiceCount()).isEqualTo(3);
    assertThat(lb.activeRequestBias()).isEqualTo(0.5);
    assertThat(lb.panicThreshold()).isEqualTo(25);
    assertThat(((LbFactory) build("name: a\nlb_policy: RANDOM\n").lbFactory()).policy())
        .isEqualTo(LbFactory.Policy.RANDOM);
  }

  @Test
  void consistentHashingSettings() {
    LbFactory ring =
        (LbFactory)
            build(
                    "name: a\nlb_policy: RING_HASH\n"
                        + "ring_hash_lb_config: {minimum_ring_size: 64, maximum_ring_size: 4096}\n"
                        + "common_lb_config: {consistent_hashing_lb_config:"
                        + " {use_hostname_for_hashing: true}}\n")
                .lbFactory();
    assertThat(ring.policy()).isEqualTo(LbFactory.Policy.RING_HASH);
    assertThat(ring.minRingSize()).isEqualTo(64);
    assertThat(ring.maxRingSize()).isEqualTo(4096);
    assertThat(ring.useHostnameForHashing()).isTrue();
    LbFactory defaults = (LbFactory) build("name: a\nlb_policy: RING_HASH\n").lbFactory();
    assertThat(defaults.minRingSize()).isEqualTo(1024);
    assertThat(defaults.maxRingSize()).isEqualTo(8388608);
    assertThat(defaults.useHostnameForHashing()).isFalse();
    LbFactory maglev =
        (LbFactory) build("name: a\nlb_policy: MAGLEV\nmaglev_lb_config: {table_size: 251}\n")
            .lbFactory();
    assertThat(maglev.policy()).isEqualTo(LbFactory.Policy.MAGLEV);
    assertThat(maglev.maglevTableSize()).isEqualTo(251);
    assertThat(((LbFactory) build("name: a\nlb_policy: MAGLEV\n").lbFactory()).maglevTableSize())
        .isEqualTo(65537);
  }

  @Test
  void unsupportedClusterType() {
    assertError(
        "name: a\ntype: ORIGINAL_DST\n",
        "static_resources.clusters[2].type: unsupported cluster type ORIGINAL_DST");
    assertError(
        "name: a\ncluster_type: {name: envoy.clusters.aggregate}\n",
        "static_resources.clusters[2].cluster_type: unsupported cluster type"
            + " envoy.clusters.aggregate");
  }

  @Test
  void unsupportedLbPolicies() {
    assertError(
        "name: a\nlb_policy: RING_HASH\nring_hash_lb_config: {minimum_ring_size: 100,"
            + " maximum_ring_size: 10}\n",
        "static_resources.clusters[2].ring_hash_lb_config: ring hash: minimum_ring_size (100) >"
            + " maximum_ring_size (10)");
    assertError(
        "name: a\nlb_policy: RING_HASH\nring_hash_lb_config: {hash_function: MURMUR_HASH_2}\n",
        "static_resources.clusters[2].ring_hash_lb_config.hash_function: unsupported hash"
            + " function MURMUR_HASH_2");
    assertError(
        "name: a\nlb_policy: MAGLEV\nmaglev_lb_config: {table_size: 65536}\n",
        "static_resources.clusters[2].maglev_lb_config.table_size.value: The table size of"
            + " maglev must be prime number");
    assertError(
        "name: a\nlb_policy: MAGLEV\n"
            + "common_lb_config: {consistent_hashing_lb_config: {hash_balance_factor: 150}}\n",
        "static_resources.clusters[2].common_lb_config.consistent_hashing_lb_config"
            + ".hash_balance_factor: unsupported");
    assertError(
        "name: a\nlb_policy: CLUSTER_PROVIDED\n",
        "static_resources.clusters[2].lb_policy: unsupported load balancing policy"
            + " CLUSTER_PROVIDED");
    assertError(
        "name: a\nlb_policy: LOAD_BALANCING_POLICY_CONFIG\n",
        "static_resources.clusters[2].lb_policy: unsupported load balancing policy"
            + " LOAD_BALANCING_POLICY_CONFIG");
    assertError(
        "name: a\nlb_subset_config: {fallback_policy: ANY_ENDPOINT}\n",
        "static_resources.clusters[2].lb_subset_config: unsupported");
    assertError(
        "name: a\nlb_policy: MAGLEV\ncommon_lb_config: {locality_weighted_lb_config: {}}\n",
        "static_resources.clusters[2].common_lb_config.locality_weighted_lb_config: unsupported"
            + " with lb_policy MAGLEV");
    assertError(
        "name: a\nround_robin_lb_config: {slow_start_config: {slow_start_window: 1s, aggression: {default_value: 0, runtime_key: k}}}\n",
        "static_resources.clusters[2].round_robin_lb_config.slow_start_config.aggression: value must be"
            + " greater than 0");
    assertError(
        "name: a\nlb_policy: LEAST_REQUEST\nleast_request_lb_config: {choice_count: 1}\n",
        "static_resources.clusters[2].least_request_lb_config.choice_count: value must be"
            + " greater than or equal to 2");
    assertError(
        "name: a\ncommon_lb_config: {healthy_panic_threshold: {value: 101}}\n",
        "static_resources.clusters[2].common_lb_config.healthy_panic_threshold.value: value must"
            + " be inside range [0, 100]");
  }

  @Test
  void invalidFields() {
    assertError("type: STATIC\n", "static_resources.clusters[2].name: value length must be at least 1 runes");
    assertError(
        "name: a\nconnect_timeout: 0s\n",
        "static_resources.clusters[2].connect_timeout: value must be greater than 0s");
    assertError(
        "name: a\ndns_refresh_rate: 0.001s\n",
        "static_resources.clusters[2].dns_refresh_rate: value must be greater than 1ms");
    assertError(
        "name: a\ndns_failure_refresh_rate: {base_interval: 5s, max_interval: 2s}\n",
        "static_resources.clusters[2].dns_failure_refresh_rate: dns_failure_refresh_rate must"
            + " have max_interval greater than or equal to the base_interval");
    assertError(
        "name: a\ndns_resolvers: [{socket_address: {address: dns.example.com, port_value: 53}}]\n",
        "static_resources.clusters[2].dns_resolvers[0].socket_address.address: malformed IP"
            + " address: dns.example.com");
  }

  @Test
  void protocolOptionErrors() {
    io.envoyproxy.envoy.config.cluster.v3.Cluster unknown =
        io.envoyproxy.envoy.config.cluster.v3.Cluster.newBuilder()
            .setName("a")
            .putTypedExtensionProtocolOptions(
                "envoy.filters.network.thrift_proxy",
                com.google.protobuf.Any.pack(com.google.protobuf.Struct.getDefaultInstance()))
            .build();
    assertThatThrownBy(() -> ClusterInfo.build(unknown, PATH, store))
        .isInstanceOf(ConfigException.class)
        .hasMessage(
            "static_resources.clusters[2].typed_extension_protocol_options"
                + "[\"envoy.filters.network.thrift_proxy\"]: Didn't find a registered network or"
                + " http filter or protocol options implementation for name:"
                + " 'envoy.filters.network.thrift_proxy'");
    assertError(
        "name: a\n"
            + "typed_extension_protocol_options:\n"
            + "  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:\n"
            + "    '@type': type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions\n"
            + "    explicit_http_config: {http3_protocol_options: {}}\n",
        "static_resources.clusters[2].typed_extension_protocol_options"
            + "[\"envoy.extensions.upstreams.http.v3.HttpProtocolOptions\"]"
            + ".explicit_http_config.http3_protocol_options: HTTP/3 upstreams are not supported");
  }
}
