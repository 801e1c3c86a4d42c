package io.legate.server;

import io.legate.listener.ActiveListener;
import io.legate.listener.ListenSockets;
import io.legate.network.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.channel.unix.DomainSocketReadMode;
import io.netty.channel.unix.FileDescriptor;
import io.netty.handler.codec.LineBasedFrameDecoder;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Hot restart, as Envoy's {@code --restart-epoch}: a new process takes over the listening sockets
 * of the running one and tells it to drain, so a restart loses no connection — not even one
 * waiting in an accept queue, since the socket itself is shared rather than bound twice.
 *
 * <p>Each process listens on a Unix domain socket {@code <socket-path>_<base-id>_<epoch>}. The
 * process of epoch N connects to epoch N-1's: for each listener it is about to bind it asks {@code
 * SOCKET <name> <ip:port>} and receives the listening socket's descriptor (SCM_RIGHTS) when the old
 * process has a listener of that name or address; once it serves, it sends {@code DRAIN <seconds>}
 * and the old process stops accepting, drains its connections (HTTP/1.1 responses carry {@code
 * Connection: close}, HTTP/2 connections get GOAWAY) for at most {@code --drain-time-s} or the new
 * process's {@code --parent-shutdown-time-s}, and exits. Needs the epoll transport (Linux).
 */
final class HotRestart implements AutoCloseable {
  private final Options options;
  private final EventLoopGroup loop;
  private final Supplier<Server> server;
  private Channel serverChannel;
  private Path ownPath;

  /** The hot-restart socket's own epoll loop when the server's transport is not epoll, or null. */
  private final EventLoopGroup ownLoop;

  private HotRestart(Options options, EventLoopGroup loop, Supplier<Server> server, EventLoopGroup ownLoop) {
    this.options = options;
    this.loop = loop;
    this.server = server;
    this.ownLoop = ownLoop;
  }

  static Path socketPath(Options o, int epoch) {
    return Path.of(o.socketPath() + "_" + o.baseId() + "_" + epoch);
  }

  /**
   * Starts the hot-restart endpoint of this process (so that the next epoch can find it), or
   * returns null without epoll (the Unix socket that passes descriptors is an epoll channel). A
   * server on io_uring serves it from a loop of its own and hands its listening sockets over as
   * well; only a process on epoll can adopt them, which is why a server of an epoch above 0
   * starts on epoll.
   */
  static HotRestart start(Options options, EventLoopGroup loop, Supplier<Server> server) {
    if (!io.netty.channel.epoll.Epoll.isAvailable()) {
      if (options.restartEpoch() > 0) {
        Log.warn("main", "hot restart needs Linux epoll; epoch " + options.restartEpoch() + " binds its own sockets");
      }
      return null;
    }
    boolean epoll = Transport.of(loop) == Transport.EPOLL;
    if (options.restartEpoch() > 0 && !epoll) {
      Log.warn("main", "hot restart: the " + Transport.of(loop) + " transport cannot adopt the parent's sockets; epoch "
          + options.restartEpoch() + " binds its own");
      return null;
    }
    EventLoopGroup own =
        epoll
            ? null
            : new io.netty.channel.MultiThreadIoEventLoopGroup(
                1, new io.netty.util.concurrent.DefaultThreadFactory("legate-hot-restart", true),
                io.netty.channel.epoll.EpollIoHandler.newFactory());
    HotRestart h = new HotRestart(options, own != null ? own : loop, server, own);
    h.listen();
    return h;
  }

  private void listen() {
    ownPath = socketPath(options, options.restartEpoch());
    try {
      Files.deleteIfExists(ownPath); // a stale socket of a process that is gone
    } catch (Exception e) {
      Log.warn("main", "hot restart: cannot remove stale " + ownPath + ": " + e.getMessage());
    }
    var f =
        new ServerBootstrap()
            .group(loop)
            .channel(EpollServerDomainSocketChannel.class)
            .childHandler(
                new ChannelInitializer<Channel>() {
                  @Override
                  protected void initChannel(Channel ch) {
                    ch.pipeline().addLast(new LineBasedFrameDecoder(1024)).addLast(new ParentHandler());
                  }
                })
            .bind(new DomainSocketAddress(ownPath.toFile()))
            .awaitUninterruptibly();
    if (!f.isSuccess()) {
      Log.warn("main", "hot restart: cannot listen on " + ownPath + ": " + f.cause().getMessage());
      return;
    }
    serverChannel = f.channel();
  }

  /** Returns the sockets the previous epoch hands over (none for epoch 0). */
  ListenSockets inheritedSockets() {
    if (options.restartEpoch() == 0) {
      return ListenSockets.NONE;
    }
    Path parent = socketPath(options, options.restartEpoch() - 1);
    return (name, address) -> {
      if (!Files.exists(parent)) {
        return -1;
      }
      String request = "SOCKET " + name + " " + address.getAddress().getHostAddress() + ":" + address.getPort() + "\n";
      CompletableFuture<Integer> fd = new CompletableFuture<>();
      Channel ch = connect(parent, fd);
      if (ch == null) {
        return -1;
      }
      ch.writeAndFlush(Unpooled.copiedBuffer(request, StandardCharsets.US_ASCII));
      try {
        int n = fd.get(5, TimeUnit.SECONDS);
        if (n >= 0) {
          Log.info("main", "hot restart: listener '" + name + "' takes over the listening socket of epoch " + (options.restartEpoch() - 1));
        }
        return n;
      } catch (Exception e) {
        return -1;
      } finally {
        ch.close();
      }
    };
  }

  /** Tells the previous epoch to drain and exit (once this process serves). */
  void drainParent() {
    if (options.restartEpoch() == 0) {
      return;
    }
    Path parent = socketPath(options, options.restartEpoch() - 1);
    if (!Files.exists(parent)) {
      return;
    }
    CompletableFuture<Integer> ignored = new CompletableFuture<>();
    Channel ch = connect(parent, ignored);
    if (ch != null) {
      ch.writeAndFlush(Unpooled.copiedBuffer("DRAIN " + options.parentShutdownTimeSeconds() + "\n", StandardCharsets.US_ASCII))
          .awaitUninterruptibly(5, TimeUnit.SECONDS);
      ch.close();
      Log.info("main", "hot restart: epoch " + (options.restartEpoch() - 1) + " told to drain");
    }
  }

  private Channel connect(Path parent, CompletableFuture<Integer> fd) {
    var f =
        new Bootstrap()
            .group(loop)
            .channel(EpollDomainSocketChannel.class)
            .option(EpollChannelOption.DOMAIN_SOCKET_READ_MODE, DomainSocketReadMode.FILE_DESCRIPTORS)
            .handler(
                new SimpleChannelInboundHandler<FileDescriptor>() {
                  @Override
                  protected void channelRead0(ChannelHandlerContext ctx, FileDescriptor msg) {
                    fd.complete(msg.intValue());
                  }

                  @Override
                  public void channelInactive(ChannelHandlerContext ctx) {
                    fd.complete(-1);
                  }

                  @Override
                  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                    fd.complete(-1);
                    ctx.close();
                  }
                })
            .connect(new DomainSocketAddress(parent.toFile()))
            .awaitUninterruptibly();
    if (!f.isSuccess()) {
      Log.warn("main", "hot restart: cannot reach epoch " + (options.restartEpoch() - 1) + " at " + parent + ": " + f.cause().getMessage());
      return null;
    }
    return f.channel();
  }

  /** Serves the next epoch's requests: listening sockets, then the order to drain. */
  private final class ParentHandler extends SimpleChannelInboundHandler<ByteBuf> {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, ByteBuf msg) {
      String[] line = msg.toString(StandardCharsets.US_ASCII).trim().split(" ");
      Server s = server.get();
      if (line.length == 3 && line[0].equals("SOCKET") && s != null) {
        int fd = line[1].equals("admin") ? s.adminListenFd() : find(s.listeners(), line[1], line[2]);
        if (fd >= 0) {
          ctx.writeAndFlush(new FileDescriptor(fd)).addListener(f -> ctx.close());
          return;
        }
        ctx.close();
      } else if (line.length == 2 && line[0].equals("DRAIN") && s != null) {
        int seconds;
        try {
          seconds = Integer.parseInt(line[1]);
        } catch (NumberFormatException e) {
          seconds = options.drainTimeSeconds();
        }
        ctx.close();
        Log.info("main", "hot restart: epoch " + (options.restartEpoch() + 1) + " serves; draining");
        s.drainForRestart(Math.min(seconds, options.drainTimeSeconds()));
      } else {
        ctx.close();
      }
    }

    /**
     * Finds the listener by name — when the requested address asks for any port or is the one it
     * is bound to — or else by bound address.
     */
    private int find(List<ActiveListener> listeners, String name, String address) {
      boolean anyPort = address.endsWith(":0");
      for (ActiveListener l : listeners) {
        InetSocketAddress a = l.boundAddress();
        boolean sameAddress = a != null && (a.getAddress().getHostAddress() + ":" + a.getPort()).equals(address);
        if (l.config().name.equals(name) && (anyPort || sameAddress) && l.listenFd() >= 0) {
          return l.listenFd();
        }
      }
      for (ActiveListener l : listeners) {
        InetSocketAddress a = l.boundAddress();
        if (a != null && (a.getAddress().getHostAddress() + ":" + a.getPort()).equals(address) && l.listenFd() >= 0) {
          return l.listenFd();
        }
      }
      return -1;
    }
  }

  @Override
  public void close() {
    if (serverChannel != null) {
      serverChannel.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
      serverChannel = null;
      try {
        Files.deleteIfExists(ownPath);
      } catch (Exception e) {
        // best effort
      }
    }
    if (ownLoop != null) {
      ownLoop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
  }
}
