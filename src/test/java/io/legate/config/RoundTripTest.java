package io.legate.config;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.util.JsonFormat;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext;
import org.junit.jupiter.api.Test;

class RoundTripTest {
  @Test
  void frontProxyConfigSurvivesPrintingAndParsingAgain() throws Exception {
    Bootstrap loaded = ConfigLoader.loadBootstrap(ExamplesTest.examplesDir().resolve("examples__front-proxy__envoy.yaml"), null);

    assertThat(loaded.getStaticResources().getListenersCount()).isEqualTo(2);
    assertThat(loaded.getStaticResources().getClustersCount()).isEqualTo(2);
    var tls = loaded.getStaticResources().getListeners(1).getFilterChains(0).getTransportSocket();
    DownstreamTlsContext context = ConfigLoader.unpack(tls.getTypedConfig(), DownstreamTlsContext.class, "transport_socket");
    assertThat(context.getCommonTlsContext().getTlsCertificatesCount()).isEqualTo(1);
    HttpConnectionManager hcm = ConfigLoader.unpack(
        loaded.getStaticResources().getListeners(0).getFilterChains(0).getFilters(0).getTypedConfig(),
        HttpConnectionManager.class, "typed_config");
    assertThat(hcm.getRouteConfig().getVirtualHosts(0).getRoutesCount()).isEqualTo(2);

    String json = JsonFormat.printer().usingTypeRegistry(ConfigLoader.typeRegistry()).print(loaded);
    Bootstrap again = ConfigLoader.parse(json, Bootstrap.newBuilder(), "config_dump").build();
    assertThat(again).isEqualTo(loaded);

    String yamlish = JsonFormat.printer().usingTypeRegistry(ConfigLoader.typeRegistry()).preservingProtoFieldNames()
        .print(loaded);
    assertThat(ConfigLoader.parse(yamlish, Bootstrap.newBuilder(), "config_dump").build()).isEqualTo(loaded);
  }
}
