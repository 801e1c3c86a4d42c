package io.legate.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.envoyproxy.envoy.config.core.v3.DataSource;
import io.envoyproxy.envoy.config.core.v3.TransportSocket;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.CommonTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.TlsCertificate;
import io.envoyproxy.envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext;
import io.legate.config.ConfigException;
import io.legate.stats.StatsStore;
import com.google.protobuf.Any;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.List;
import org.junit.jupiter.api.Test;

class TlsConfigTest {
  private final StatsStore.Scope scope = new StatsStore().scope("listener.test.");

  @Test
  void missingCertificateFileIsNamed() {
    DownstreamTlsContext ctx = DownstreamTlsContext.newBuilder()
        .setCommonTlsContext(CommonTlsContext.newBuilder().addTlsCertificates(TlsCertificate.newBuilder()
            .setCertificateChain(DataSource.newBuilder().setFilename("/nonexistent/cert.pem"))
            .setPrivateKey(DataSource.newBuilder().setFilename("/nonexistent/key.pem"))))
        .build();
    TransportSocket ts = TransportSocket.newBuilder().setName("envoy.transport_sockets.tls").setTypedConfig(Any.pack(ctx)).build();
    assertThatThrownBy(() -> TransportSockets.downstream(ts, "fc.transport_socket", scope, new TlsStats(scope)))
        .isInstanceOf(ConfigException.class)
        .hasMessage("fc.transport_socket.typed_config.common_tls_context.tls_certificates[0].certificate_chain.filename: "
            + "cannot read file '/nonexistent/cert.pem': no such file");
  }

  @Test
  void serverNeedsACertificate() {
    TransportSocket ts = TransportSocket.newBuilder().setName("envoy.transport_sockets.tls")
        .setTypedConfig(Any.pack(DownstreamTlsContext.getDefaultInstance())).build();
    assertThatThrownBy(() -> TransportSockets.downstream(ts, "p", scope, new TlsStats(scope)))
        .hasMessage("p.typed_config.common_tls_context.tls_certificates: No TLS certificates found for server context");
  }

  @Test
  void unknownTransportSocketAndAutoSniAreRefused() {
    TransportSocket alts = TransportSocket.newBuilder().setName("envoy.transport_sockets.alts").build();
    assertThatThrownBy(() -> TransportSockets.upstream(alts, "c.transport_socket", scope))
        .hasMessage("c.transport_socket: unsupported transport socket 'envoy.transport_sockets.alts'; supported: "
            + "envoy.transport_sockets.tls, envoy.transport_sockets.raw_buffer");
    TransportSocket auto = TransportSocket.newBuilder().setName("envoy.transport_sockets.tls")
        .setTypedConfig(Any.pack(UpstreamTlsContext.newBuilder().setAutoHostSni(true).build())).build();
    assertThatThrownBy(() -> TransportSockets.upstream(auto, "c", scope))
        .hasMessage("c.typed_config.auto_host_sni: auto_host_sni is not supported yet: set sni");
  }

  @Test
  void clientHelloGivesSniAndAlpn() throws Exception {
    SslContext client = SslContextBuilder.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE)
        .applicationProtocolConfig(new io.netty.handler.ssl.ApplicationProtocolConfig(
            io.netty.handler.ssl.ApplicationProtocolConfig.Protocol.ALPN,
            io.netty.handler.ssl.ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
            io.netty.handler.ssl.ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, "h2", "http/1.1"))
        .build();
    EmbeddedChannel ch = new EmbeddedChannel(client.newHandler(io.netty.buffer.ByteBufAllocator.DEFAULT, "sni.example.com", 443));
    ByteBuf hello = ch.readOutbound();
    try {
      assertThat(ClientHello.peek(hello.slice(0, 10))).isNull();
      assertThat(ClientHello.peek(hello)).isEqualTo(new ClientHello("tls", "sni.example.com", List.of("h2", "http/1.1")));
    } finally {
      hello.release();
      ch.finishAndReleaseAll();
    }
    ByteBuf plain = Unpooled.copiedBuffer("GET / HTTP/1.1\r\n", java.nio.charset.StandardCharsets.US_ASCII);
    assertThat(ClientHello.peek(plain)).isSameAs(ClientHello.RAW);
    plain.release();
  }
}
