package io.legate.listener;

import io.legate.http.codec.HttpServerPipeline;
import io.legate.network.Transport;
import io.legate.tls.ClientHello;
import io.legate.tls.DownstreamTlsHandler;
import io.legate.tls.TlsInspector;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.socket.SocketChannel;
import java.net.InetSocketAddress;

/** A bound listener: accepts connections and hands each to a worker with its filter chain. */
public final class ActiveListener {
  private final ListenerConfig config;
  private final ChannelGroup connections;
  private Channel serverChannel;

  public ActiveListener(ListenerConfig config, ChannelGroup connections) {
    this.config = config;
    this.connections = connections;
  }

  public ListenerConfig config() {
    return config;
  }

  /** Binds; the returned future fails if the address is in use. */
  public ChannelFuture bind(EventLoopGroup acceptor, EventLoopGroup workers) {
    int limit = config.bufferLimitBytes;
    ServerBootstrap b =
        new ServerBootstrap()
            .group(acceptor, workers)
            .channel(Transport.serverChannel())
            .option(ChannelOption.SO_BACKLOG, 1024)
            .option(ChannelOption.SO_REUSEADDR, true)
            .childOption(ChannelOption.TCP_NODELAY, true)
            .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(Math.max(1, limit / 2), Math.max(limit, 1)))
            .childHandler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    onAccept(ch);
                  }
                });
    ChannelFuture f = b.bind(config.address);
    serverChannel = f.channel();
    return f;
  }

  private void onAccept(SocketChannel ch) {
    if (config.tlsInspector) {
      ch.pipeline()
          .addLast(
              "legate-tls-inspector",
              new TlsInspector((ctx, hello) -> onChain(ch, hello), config.listenerFiltersTimeoutMs));
    } else {
      onChain(ch, ClientHello.RAW);
    }
  }

  private void onChain(SocketChannel ch, ClientHello hello) {
    ListenerConfig.Chain chain = config.select(ch.localAddress(), ch.remoteAddress(), hello);
    if (chain == null) {
      config.noFilterChainMatch.inc();
      ch.close();
      return;
    }
    config.downstreamCxTotal.inc();
    config.downstreamCxActive.inc();
    long start = System.nanoTime();
    connections.add(ch);
    ch.closeFuture()
        .addListener(
            f -> {
              config.downstreamCxActive.dec();
              config.downstreamCxDestroy.inc();
              config.downstreamCxLengthMs.record((System.nanoTime() - start) / 1_000_000);
            });
    ChannelPipeline p = ch.pipeline();
    if (chain.tls() == null) {
      installTerminal(p, chain, false);
      return;
    }
    ChannelHandler ssl = chain.tls().newHandler(ch.alloc(), hello.serverName(), config.tlsInspector);
    if (ssl == null) {
      config.tlsStats.connectionError.inc();
      ch.close();
      return;
    }
    chain.sslTotal().inc();
    chain.sslActive().inc();
    ch.closeFuture().addListener(f -> chain.sslActive().dec());
    p.addLast("ssl", ssl);
    p.addLast(
        "legate-tls",
        new DownstreamTlsHandler(
            chain.tls(),
            (ctx, alpn) -> {
              // As Envoy: with codec AUTO, ALPN decides; without ALPN the preface is sniffed.
              boolean auto = chain.hcm() != null && chain.hcm().codec == io.legate.http.HcmConfig.Codec.AUTO;
              if (auto && "h2".equals(alpn)) {
                HttpServerPipeline.installHttp2(ctx.pipeline(), chain.hcm(), true);
              } else if (auto && "http/1.1".equals(alpn)) {
                HttpServerPipeline.installHttp1(ctx.pipeline(), chain.hcm(), true);
              } else {
                installTerminal(ctx.pipeline(), chain, true);
              }
            }));
  }

  /** Adds the chain's terminal filter: a TCP proxy, or the HTTP codec and connection manager. */
  private static void installTerminal(ChannelPipeline p, ListenerConfig.Chain chain, boolean tls) {
    if (chain.tcpProxy() != null) {
      p.addLast("tcp_proxy", new io.legate.network.tcpproxy.TcpProxyHandler(chain.tcpProxy()));
    } else {
      HttpServerPipeline.install(p, chain.hcm(), tls);
    }
  }

  /** Returns the bound address (the real port when the config said 0). */
  public InetSocketAddress boundAddress() {
    return serverChannel == null ? config.address : (InetSocketAddress) serverChannel.localAddress();
  }

  /** Stops accepting. Existing connections stay. */
  public void stopAccepting() {
    if (serverChannel != null) {
      serverChannel.close();
    }
  }
}
