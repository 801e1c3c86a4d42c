package io.legate.listener;

import io.legate.http.StreamInfo;
import io.legate.http.codec.HttpServerPipeline;
import io.legate.network.DownstreamConnections;
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
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A bound listener: accepts connections and hands each to a worker with its filter chain. Its config
 * can be replaced in place (an LDS update that keeps the address): new connections get the new config
 * at once, connections accepted under the old one drain.
 */
public final class ActiveListener {
  /** One config and the connections accepted under it. */
  private record Generation(ListenerConfig config, ChannelGroup channels) {
    Generation(ListenerConfig config) {
      this(config, new DefaultChannelGroup(GlobalEventExecutor.INSTANCE));
    }
  }

  private final ChannelGroup connections;
  private volatile Generation current;
  private Channel serverChannel;

  /**
   * Creates an unbound listener.
   *
   * @param connections every downstream connection of the process (closed at shutdown)
   */
  public ActiveListener(ListenerConfig config, ChannelGroup connections) {
    this.current = new Generation(config);
    this.connections = connections;
  }

  /** Returns the config new connections get. */
  public ListenerConfig config() {
    return current.config();
  }

  /**
   * Binds; the returned future fails if the address is in use. Until the config's route tables are
   * {@linkplain ListenerConfig#ready() ready} the socket is bound but does not accept (Envoy's warming):
   * clients wait in the backlog rather than being refused.
   */
  public ChannelFuture bind(EventLoopGroup acceptor, EventLoopGroup workers) {
    return bind(acceptor, workers, -1);
  }

  /**
   * Binds the listener, or, when {@code inheritedFd} is a listening socket handed over by a hot
   * restart's previous process, accepts on that socket (epoll transport only).
   */
  public ChannelFuture bind(EventLoopGroup acceptor, EventLoopGroup workers, int inheritedFd) {
    ServerBootstrap b =
        new ServerBootstrap()
            .group(acceptor, workers)
            .option(ChannelOption.SO_BACKLOG, 1024)
            .option(ChannelOption.SO_REUSEADDR, true)
            .childOption(ChannelOption.TCP_NODELAY, true)
            .childHandler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    onAccept(ch);
                  }
                });
    ChannelFuture f;
    if (inheritedFd >= 0 && Transport.of(acceptor) == Transport.EPOLL) {
      b.channelFactory(() -> new io.netty.channel.epoll.EpollServerSocketChannel(inheritedFd));
      f = b.register();
    } else {
      f = b.channel(Transport.serverChannel(acceptor)).bind(config().address);
    }
    serverChannel = f.channel();
    CompletableFuture<Void> ready = config().ready();
    if (!ready.isDone()) {
      f.addListener(
          x -> {
            if (x.isSuccess()) {
              serverChannel.config().setAutoRead(false);
              ready.whenComplete((v, e) -> serverChannel.config().setAutoRead(true));
            }
          });
    }
    return f;
  }

  private void onAccept(SocketChannel ch) {
    Generation g = current;
    ListenerConfig config = g.config();
    io.legate.server.OverloadManager overload = config.overload;
    if (!overload.admitConnection()) {
      // Envoy's global downstream connection limit / overload action: refused on accept.
      config.downstreamGlobalCxOverflow.inc();
      ch.close();
      return;
    }
    if (overload.countsConnections()) {
      ch.closeFuture().addListener(f -> overload.connectionClosed());
    }
    DownstreamConnections.assignId(ch);
    if (!config.accessLogs.isEmpty()) {
      StreamInfo info =
          new StreamInfo(System.currentTimeMillis(), System.nanoTime(), ch.remoteAddress(), ch.localAddress(), null);
      info.setDownstreamConnection(ch);
      DownstreamConnections.setStreamInfo(ch, info);
      // As Envoy: one entry per connection when it ends, whatever ended it (listener filters
      // included); the stream info is the one the connection's TCP proxy fills in.
      ch.closeFuture().addListener(f -> {
        for (io.legate.accesslog.AccessLog log : config.accessLogs) {
          log.log(info);
        }
      });
    }
    if (config.tlsInspector) {
      ch.pipeline()
          .addLast(
              "legate-tls-inspector",
              new TlsInspector((ctx, hello) -> onChain(ch, hello, g), config.listenerFiltersTimeoutMs));
    } else {
      onChain(ch, ClientHello.RAW, g);
    }
  }

  private void onChain(SocketChannel ch, ClientHello hello, Generation g) {
    ListenerConfig config = g.config();
    ListenerConfig.Chain chain = config.select(ch.localAddress(), ch.remoteAddress(), hello);
    io.legate.network.DownstreamConnections.setRequestedServerName(ch, hello.serverName());
    if (chain == null) {
      config.noFilterChainMatch.inc();
      StreamInfo info = DownstreamConnections.streamInfo(ch);
      if (info != null) {
        info.addResponseFlag(io.legate.http.ResponseFlag.NO_ROUTE_FOUND);
        info.setResponseCodeDetails("filter_chain_not_found");
      }
      ch.close();
      return;
    }
    int limit = config.bufferLimitBytes;
    ch.config().setWriteBufferWaterMark(new WriteBufferWaterMark(Math.max(1, limit / 2), Math.max(limit, 1)));
    config.downstreamCxTotal.inc();
    config.downstreamCxActive.inc();
    long start = System.nanoTime();
    connections.add(ch);
    g.channels().add(ch);
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
              installNetworkFilters(ctx.pipeline(), chain);
              if (auto && "h2".equals(alpn)) {
                HttpServerPipeline.installHttp2(ctx.pipeline(), chain.hcm(), true);
              } else if (auto && "http/1.1".equals(alpn)) {
                HttpServerPipeline.installHttp1(ctx.pipeline(), chain.hcm(), true);
              } else {
                installTerminal0(ctx.pipeline(), chain, true);
              }
            }));
  }


  /** Adds the chain's network filters, then its terminal filter. */
  private static void installTerminal(ChannelPipeline p, ListenerConfig.Chain chain, boolean tls) {
    installNetworkFilters(p, chain);
    installTerminal0(p, chain, tls);
  }

  /** Adds the chain's non-terminal network filters (rbac, local rate limit, ...) in config order. */
  private static void installNetworkFilters(ChannelPipeline p, ListenerConfig.Chain chain) {
    var filters = chain.networkFilters();
    for (int i = 0; i < filters.size(); i++) {
      p.addLast("network-filter-" + i, filters.get(i).newHandler());
    }
  }

  /** Adds the chain's terminal filter: a TCP proxy, or the HTTP codec and connection manager. */
  private static void installTerminal0(ChannelPipeline p, ListenerConfig.Chain chain, boolean tls) {
    if (chain.tcpProxy() != null) {
      p.addLast("tcp_proxy", new io.legate.network.tcpproxy.TcpProxyHandler(chain.tcpProxy()));
    } else {
      HttpServerPipeline.install(p, chain.hcm(), tls);
    }
  }

  /**
   * Replaces the config in place (same address): once {@code next} is ready, new connections get it
   * and the connections accepted under the old config drain for {@code drainMillis}, then close.
   * Returns a future completed when the old connections are gone.
   */
  public CompletableFuture<Void> update(ListenerConfig next, long drainMillis, EventExecutor timer) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    next.ready()
        .whenComplete(
            (v, e) -> {
              Generation old = current;
              current = new Generation(next);
              drainConnections(old.channels(), drainMillis, timer).whenComplete((x, y) -> done.complete(null));
            });
    return done;
  }

  /**
   * Stops accepting and closes this listener's connections after {@code drainMillis} (Envoy's
   * {@code --drain-time-s}); requests in flight until then finish. Returns a future completed when
   * every connection is closed.
   */
  public CompletableFuture<Void> drain(long drainMillis, EventExecutor timer) {
    stopAccepting();
    return drainConnections(current.channels(), drainMillis, timer);
  }

  private static CompletableFuture<Void> drainConnections(ChannelGroup channels, long drainMillis, EventExecutor timer) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    if (channels.isEmpty()) {
      done.complete(null);
      return done;
    }
    // Tell the connections first: HTTP/1.1 closes after its next response, HTTP/2 sends GOAWAY;
    // what is still open when the drain time ends is closed.
    io.legate.http.DrainEvent.fire(channels);
    timer.schedule(
        () -> channels.close().addListener(f -> done.complete(null)), Math.max(0, drainMillis), TimeUnit.MILLISECONDS);
    return done;
  }

  /** Returns the number of open connections accepted under the current config. */
  public int activeConnections() {
    return current.channels().size();
  }

  /** Returns the bound address (the real port when the config said 0). */
  public InetSocketAddress boundAddress() {
    return serverChannel == null ? config().address : (InetSocketAddress) serverChannel.localAddress();
  }

  /** Stops accepting. Existing connections stay. */
  /**
   * Returns the listening socket's file descriptor (to hand over in a hot restart), or -1 when
   * there is none or the transport is NIO.
   */
  public int listenFd() {
    Channel ch = serverChannel;
    return ch instanceof io.netty.channel.ServerChannel ? Transport.fd(ch) : -1;
  }

  public void stopAccepting() {
    if (serverChannel != null) {
      serverChannel.close();
    }
  }
}
