package io.legate.stats;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.stats.TagExtractor.Tag;
import io.legate.stats.TagExtractor.TaggedName;
import org.junit.jupiter.api.Test;

class TagExtractorTest {
  private final TagExtractor extractor = TagExtractor.defaults();

  private TaggedName extract(String name) {
    return extractor.extract(name);
  }

  @Test
  void responseCodeClassComesBeforeClusterName() {
    TaggedName t = extract("cluster.backend.upstream_rq_2xx");
    assertThat(t.tagExtractedName()).isEqualTo("cluster.upstream_rq_xx");
    assertThat(t.tags()).containsExactly(
        new Tag("envoy.response_code_class", "2"), new Tag("envoy.cluster_name", "backend"));
  }

  @Test
  void responseCode() {
    TaggedName t = extract("cluster.backend.upstream_rq_200");
    assertThat(t.tagExtractedName()).isEqualTo("cluster.upstream_rq");
    assertThat(t.tags()).containsExactly(
        new Tag("envoy.response_code", "200"), new Tag("envoy.cluster_name", "backend"));
  }

  @Test
  void httpConnectionManagerPrefix() {
    TaggedName t = extract("http.ingress_http.downstream_rq_total");
    assertThat(t.tagExtractedName()).isEqualTo("http.downstream_rq_total");
    assertThat(t.tags()).containsExactly(new Tag("envoy.http_conn_manager_prefix", "ingress_http"));

    TaggedName xx = extract("http.ingress_http.downstream_rq_5xx");
    assertThat(xx.tagExtractedName()).isEqualTo("http.downstream_rq_xx");
    assertThat(xx.tags()).containsExactly(
        new Tag("envoy.response_code_class", "5"),
        new Tag("envoy.http_conn_manager_prefix", "ingress_http"));
  }

  @Test
  void listenerAddress() {
    TaggedName t = extract("listener.0.0.0.0_10000.downstream_cx_total");
    assertThat(t.tagExtractedName()).isEqualTo("listener.downstream_cx_total");
    assertThat(t.tags()).containsExactly(new Tag("envoy.listener_address", "0.0.0.0_10000"));

    TaggedName v6 = extract("listener.[__1]_443.downstream_cx_active");
    assertThat(v6.tagExtractedName()).isEqualTo("listener.downstream_cx_active");
    assertThat(v6.tags()).containsExactly(new Tag("envoy.listener_address", "[__1]_443"));
  }

  @Test
  void adminListenerIsNotTagged() {
    TaggedName t = extract("listener.admin.downstream_cx_total");
    assertThat(t.tagExtractedName()).isEqualTo("listener.admin.downstream_cx_total");
    assertThat(t.tags()).isEmpty();
  }

  @Test
  void listenerHttpPrefixAndAddress() {
    TaggedName t = extract("listener.127.0.0.1_10000.http.ingress_http.downstream_rq_2xx");
    assertThat(t.tagExtractedName()).isEqualTo("listener.http.downstream_rq_xx");
    assertThat(t.tags()).containsExactly(
        new Tag("envoy.response_code_class", "2"),
        new Tag("envoy.http_conn_manager_prefix", "ingress_http"),
        new Tag("envoy.listener_address", "127.0.0.1_10000"));
  }

  @Test
  void workerIds() {
    TaggedName server = extract("server.worker_0.watchdog_miss");
    assertThat(server.tagExtractedName()).isEqualTo("server.worker_watchdog_miss");
    assertThat(server.tags()).containsExactly(new Tag("envoy.worker_id", "0"));

    TaggedName manager = extract("listener_manager.worker_12.dispatcher.loop_duration_us");
    assertThat(manager.tagExtractedName())
        .isEqualTo("listener_manager.worker_dispatcher.loop_duration_us");
    assertThat(manager.tags()).containsExactly(new Tag("envoy.worker_id", "12"));
  }

  @Test
  void virtualHostAndCluster() {
    TaggedName t = extract("vhost.vh.vcluster.vc.upstream_rq_time");
    assertThat(t.tagExtractedName()).isEqualTo("vhost.vcluster.upstream_rq_time");
    assertThat(t.tags()).containsExactly(
        new Tag("envoy.virtual_cluster", "vc"), new Tag("envoy.virtual_host", "vh"));
  }

  @Test
  void tcpPrefixAndRdsRouteConfigWithDots() {
    TaggedName tcp = extract("tcp.ingress_tcp.downstream_cx_total");
    assertThat(tcp.tagExtractedName()).isEqualTo("tcp.downstream_cx_total");
    assertThat(tcp.tags()).containsExactly(new Tag("envoy.tcp_prefix", "ingress_tcp"));

    TaggedName rds = extract("http.ingress_http.rds.my.route.config.update_success");
    assertThat(rds.tagExtractedName()).isEqualTo("http.rds.update_success");
    assertThat(rds.tags()).containsExactly(
        new Tag("envoy.rds_route_config", "my.route.config"),
        new Tag("envoy.http_conn_manager_prefix", "ingress_http"));
  }

  @Test
  void clusterSslCipherSuiteAndGrpc() {
    TaggedName ssl = extract("cluster.backend.ssl.ciphers.ECDHE-RSA-AES128-GCM-SHA256");
    assertThat(ssl.tagExtractedName()).isEqualTo("cluster.ssl.ciphers");
    assertThat(ssl.tags()).containsExactly(
        new Tag("cipher_suite", "ECDHE-RSA-AES128-GCM-SHA256"),
        new Tag("envoy.cluster_name", "backend"));

    TaggedName grpc = extract("cluster.grpc_cluster.grpc.Greeter.SayHello.success");
    assertThat(grpc.tagExtractedName()).isEqualTo("cluster.grpc.success");
    assertThat(grpc.tags()).containsExactly(
        new Tag("envoy.grpc_bridge_method", "SayHello"),
        new Tag("envoy.grpc_bridge_service", "Greeter"),
        new Tag("envoy.cluster_name", "grpc_cluster"));
  }

  @Test
  void untaggedNamesAreUnchanged() {
    TaggedName t = extract("server.live");
    assertThat(t.tagExtractedName()).isEqualTo("server.live");
    assertThat(t.tags()).isEmpty();
    // A last token alone never becomes a tag value.
    assertThat(extract("cluster.backend").tags()).isEmpty();
  }

  @Test
  void resultsAreCachedPerName() {
    assertThat(extract("cluster.x.upstream_cx_total"))
        .isSameAs(extract("cluster.x.upstream_cx_total"));
  }
}
