package io.legate.upstream.health;

import static io.legate.upstream.health.HealthCheckIntegrationTest.awaitTrue;
import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerServiceDefinition;
import io.grpc.stub.ServerCalls;
import io.legate.testing.Legate;
import io.legate.testing.RefusedPort;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** TCP and gRPC health checks against real servers. */
class TcpAndGrpcHealthCheckIntegrationTest {
  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      static_resources:
        clusters:
        - name: backend
          type: STATIC
          connect_timeout: 0.5s
          ${PROTOCOL}
          health_checks:
          - timeout: 0.5s
            interval: 0.1s
            no_traffic_interval: 0.1s
            unhealthy_threshold: 2
            healthy_threshold: 1
            ${CHECK}
          load_assignment:
            cluster_name: backend
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${A} } } }
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${B} } } }
      """;

  /** A TCP server that answers "pong" to anything while {@link #answer} is set. */
  static final class PongServer implements AutoCloseable {
    volatile boolean answer = true;
    final ConcurrentLinkedQueue<String> received = new ConcurrentLinkedQueue<>();
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel channel =
        new ServerBootstrap()
            .group(group)
            .channel(NioServerSocketChannel.class)
            .childHandler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    ch.pipeline().addLast(new SimpleChannelInboundHandler<ByteBuf>() {
                      @Override
                      protected void channelRead0(ChannelHandlerContext ctx, ByteBuf msg) {
                        received.add(msg.toString(StandardCharsets.US_ASCII));
                        if (answer) {
                          ctx.writeAndFlush(Unpooled.copiedBuffer("xxpongxx", StandardCharsets.US_ASCII));
                        }
                      }
                    });
                  }
                })
            .bind("127.0.0.1", 0)
            .syncUninterruptibly()
            .channel();

    int port() {
      return ((InetSocketAddress) channel.localAddress()).getPort();
    }

    @Override
    public void close() {
      channel.close().syncUninterruptibly();
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }

  @Test
  void tcpSendReceive() throws Exception {
    String check =
        "tcp_health_check: { send: { text: \"70696e67\" }, receive: [{ text: \"706f\" }, { text: \"6e67\" }] }";
    try (PongServer a = new PongServer();
        PongServer b = new PongServer();
        Legate legate = Legate.start(CONFIG, Map.of("PROTOCOL", "", "CHECK", check, "A", a.port(), "B", b.port()))) {
      assertThat(legate.stat("cluster.backend.health_check.healthy")).isEqualTo(2);
      assertThat(a.received.peek()).isEqualTo("ping");
      b.answer = false;
      awaitTrue(() -> legate.stat("cluster.backend.health_check.healthy") == 1);
      assertThat(legate.stat("cluster.backend.health_check.network_failure")).isGreaterThanOrEqualTo(2);
      assertThat(legate.admin("/clusters").body())
          .contains("backend::127.0.0.1:" + b.port() + "::health_flags::/failed_active_hc\n")
          .contains("backend::127.0.0.1:" + a.port() + "::health_flags::healthy\n");
      b.answer = true;
      awaitTrue(() -> legate.stat("cluster.backend.health_check.healthy") == 2);
    }
  }

  @Test
  void tcpConnectOnly() throws Exception {
    try (RefusedPort refused = new RefusedPort();
        PongServer a = new PongServer();
        Legate legate = Legate.start(
            CONFIG, Map.of("PROTOCOL", "", "CHECK", "tcp_health_check: {}", "A", a.port(), "B", refused.port()))) {
      int dead = refused.port();
      assertThat(legate.stat("cluster.backend.health_check.healthy")).isEqualTo(1);
      assertThat(legate.stat("cluster.backend.membership_healthy")).isEqualTo(1);
      assertThat(legate.admin("/clusters").body())
          .contains("backend::127.0.0.1:" + dead + "::health_flags::/failed_active_hc\n")
          .contains("backend::127.0.0.1:" + a.port() + "::health_flags::healthy\n");
      assertThat(a.received).isEmpty();
    }
  }

  /** A grpc-java server with a hand-written grpc.health.v1.Health/Check. */
  static final class HealthServer implements AutoCloseable {
    volatile int status = 1; // SERVING
    final ConcurrentLinkedQueue<byte[]> requests = new ConcurrentLinkedQueue<>();
    final Server server;

    HealthServer() throws IOException {
      MethodDescriptor.Marshaller<byte[]> bytes =
          new MethodDescriptor.Marshaller<>() {
            @Override
            public InputStream stream(byte[] value) {
              return new ByteArrayInputStream(value);
            }

            @Override
            public byte[] parse(InputStream stream) {
              try {
                return stream.readAllBytes();
              } catch (IOException e) {
                throw new UncheckedIOException(e);
              }
            }
          };
      MethodDescriptor<byte[], byte[]> check =
          MethodDescriptor.<byte[], byte[]>newBuilder()
              .setType(MethodDescriptor.MethodType.UNARY)
              .setFullMethodName("grpc.health.v1.Health/Check")
              .setRequestMarshaller(bytes)
              .setResponseMarshaller(bytes)
              .build();
      ServerServiceDefinition def =
          ServerServiceDefinition.builder("grpc.health.v1.Health")
              .addMethod(check, ServerCalls.asyncUnaryCall((req, obs) -> {
                requests.add(req);
                obs.onNext(new byte[] {0x08, (byte) status});
                obs.onCompleted();
              }))
              .build();
      server = ServerBuilder.forPort(0).addService(def).build().start();
    }

    int port() {
      return server.getPort();
    }

    @Override
    public void close() throws InterruptedException {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void grpcServingStatus() throws Exception {
    String check = "grpc_health_check: { service_name: svc, authority: health.example }";
    try (HealthServer a = new HealthServer();
        HealthServer b = new HealthServer();
        Legate legate =
            Legate.start(CONFIG, Map.of("PROTOCOL", "http2_protocol_options: {}", "CHECK", check, "A", a.port(), "B", b.port()))) {
      assertThat(legate.stat("cluster.backend.health_check.healthy")).isEqualTo(2);
      assertThat(a.requests.peek()).containsExactly(0x0a, 3, 's', 'v', 'c');
      b.status = 2; // NOT_SERVING fails at once
      awaitTrue(() -> legate.stat("cluster.backend.health_check.healthy") == 1);
      assertThat(legate.stat("cluster.backend.health_check.network_failure")).isEqualTo(0);
      assertThat(legate.admin("/clusters").body())
          .contains("backend::127.0.0.1:" + b.port() + "::health_flags::/failed_active_hc\n");
      b.status = 1;
      awaitTrue(() -> legate.stat("cluster.backend.health_check.healthy") == 2);
      b.close(); // a dead server: connection refused, a network failure per check
      awaitTrue(() -> legate.stat("cluster.backend.health_check.healthy") == 1);
      assertThat(legate.stat("cluster.backend.health_check.network_failure")).isGreaterThanOrEqualTo(2);
    }
  }
}
