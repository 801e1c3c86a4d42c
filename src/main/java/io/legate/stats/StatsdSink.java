package io.legate.stats;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.DatagramPacket;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * Envoy's statsd sinks: {@code envoy.stat_sinks.statsd} over UDP or TCP to a cluster, and {@code
 * envoy.stat_sinks.dog_statsd} (tag-extracted names with {@code |#tag:value,...}). Lines are
 * Envoy's: {@code <prefix>.<name>:<delta>|c} for every used counter, {@code :<value>|g} for every
 * used gauge, and {@code :<value>|ms} once per histogram value recorded since the last flush.
 *
 * <p>Everything runs on the main event loop: the UDP socket is a non-blocking Netty {@code
 * DatagramChannel}, the TCP connection a Netty channel; when the socket cannot take more (not
 * writable) the lines are dropped and counted ({@code statsd.cx_overflow}) instead of queued.
 * Histogram values above 16 ms are sent as the upper bound of their sub-bucket (within 1/16),
 * because histograms keep buckets, not samples; Envoy sends each value from the worker as it is
 * recorded.
 */
public final class StatsdSink implements StatsSink {
  /** How the sink addresses the server. */
  public enum Mode {
    UDP,
    TCP
  }

  /**
   * The sink's settings.
   *
   * @param prefix the name prefix ({@code envoy} when unset)
   * @param tagged whether names are tag-extracted and tags appended ({@code dog_statsd})
   * @param maxBytesPerDatagram lines are packed, newline separated, into datagrams up to this size;
   *     0 sends one line per datagram
   */
  public record Settings(Mode mode, String prefix, boolean tagged, int maxBytesPerDatagram) {
    public Settings {
      Objects.requireNonNull(mode, "mode");
      Objects.requireNonNull(prefix, "prefix");
    }
  }

  private final Settings settings;
  private final EventLoop loop;
  private final Supplier<InetSocketAddress> target;
  private final TagExtractor tags;
  private final Counter overflow;
  private Channel channel;
  private boolean closed;

  /**
   * Creates a sink.
   *
   * @param loop the main event loop, where flushes run and the socket lives
   * @param target the statsd server (for TCP: a host of the cluster, asked on each connect); null
   *     when none is available
   * @param tags the tag extraction for {@code dog_statsd}
   */
  public StatsdSink(Settings settings, EventLoop loop, Supplier<InetSocketAddress> target, TagExtractor tags,
      StatsStore stats) {
    this.settings = Objects.requireNonNull(settings, "settings");
    this.loop = Objects.requireNonNull(loop, "loop");
    this.target = Objects.requireNonNull(target, "target");
    this.tags = Objects.requireNonNull(tags, "tags");
    this.overflow = stats.counter("statsd.cx_overflow");
    if (settings.mode() == Mode.UDP) {
      // Bound ahead of the first flush, so that flush's deltas are not lost to the bind.
      loop.execute(this::openUdp);
    }
  }

  private void openUdp() {
    if (channel == null && !closed) {
      Bootstrap b = new Bootstrap().group(loop).channel(io.legate.network.Transport.datagramChannel(loop))
          .handler(new ChannelInboundHandlerAdapter());
      // A datagram channel is active (and writable) only once bound: an ephemeral port.
      channel = b.bind(0).channel();
    }
  }

  @Override
  public void flush(Snapshot snapshot) {
    assert loop.inEventLoop();
    List<String> lines = lines(snapshot);
    if (lines.isEmpty() || closed) {
      return;
    }
    if (settings.mode() == Mode.UDP) {
      sendUdp(lines);
    } else {
      sendTcp(lines);
    }
  }

  /** Returns the statsd lines of one snapshot, in Envoy's order: counters, gauges, then timers. */
  public List<String> lines(Snapshot snapshot) {
    List<String> out = new ArrayList<>();
    for (CounterDelta c : snapshot.counters()) {
      if (c.counter().used()) {
        out.add(line(c.counter().name(), Long.toString(c.delta()), "|c"));
      }
    }
    for (Gauge g : snapshot.gauges()) {
      if (g.used()) {
        out.add(line(g.name(), Long.toString(g.value()), "|g"));
      }
    }
    for (HistogramValues h : snapshot.histograms()) {
      long[] v = h.values();
      for (int i = 0; i < v.length; i += 2) {
        String l = line(h.histogram().name(), Long.toString(v[i]), "|ms");
        for (long n = 0; n < v[i + 1]; n++) {
          out.add(l);
        }
      }
    }
    return out;
  }

  private String line(String name, String value, String type) {
    StringBuilder sb = new StringBuilder(settings.prefix().length() + name.length() + 24);
    sb.append(settings.prefix()).append('.');
    if (!settings.tagged()) {
      return sb.append(name).append(':').append(value).append(type).toString();
    }
    TagExtractor.TaggedName t = tags.extract(name);
    sb.append(t.tagExtractedName()).append(':').append(value).append(type);
    if (!t.tags().isEmpty()) {
      sb.append("|#");
      for (int i = 0; i < t.tags().size(); i++) {
        if (i > 0) {
          sb.append(',');
        }
        sb.append(t.tags().get(i).name()).append(':').append(t.tags().get(i).value());
      }
    }
    return sb.toString();
  }

  private void sendUdp(List<String> lines) {
    InetSocketAddress to = target.get();
    if (to == null) {
      return;
    }
    openUdp();
    if (!channel.isActive()) {
      if (!channel.isOpen()) {
        channel = null;
      }
      return;
    }
    int max = settings.maxBytesPerDatagram();
    StringBuilder packet = new StringBuilder();
    for (String l : lines) {
      if (l.length() >= max) {
        // Envoy: a line that does not fit the buffer goes out on its own.
        datagram(l, to);
        continue;
      }
      if (packet.length() + l.length() + 1 > max) {
        datagram(packet.toString(), to);
        packet.setLength(0);
      } else if (packet.length() > 0) {
        packet.append('\n');
      }
      packet.append(l);
    }
    if (packet.length() > 0) {
      datagram(packet.toString(), to);
    }
    channel.flush();
  }

  private void datagram(String payload, InetSocketAddress to) {
    if (!channel.isWritable()) {
      overflow.inc();
      return;
    }
    ByteBuf buf = ByteBufUtil.writeUtf8(channel.alloc(), payload);
    channel.write(new DatagramPacket(buf, to)).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
    if (!channel.isOpen()) {
      channel = null;
    }
  }

  private void sendTcp(List<String> lines) {
    if (channel == null || !channel.isActive()) {
      if (channel != null && channel.isOpen()) {
        return; // still connecting: this flush is dropped, as Envoy drops while not connected
      }
      InetSocketAddress to = target.get();
      if (to == null) {
        return;
      }
      Bootstrap b = new Bootstrap().group(loop).channel(io.legate.network.Transport.clientChannel(loop))
          .option(ChannelOption.TCP_NODELAY, true)
          .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000)
          .option(ChannelOption.WRITE_BUFFER_WATER_MARK,
              new io.netty.channel.WriteBufferWaterMark(1 << 20, 16 << 20))
          .handler(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
              io.netty.util.ReferenceCountUtil.release(msg);
            }
          });
      io.netty.channel.ChannelFuture connect = b.connect(to);
      Channel c = connect.channel();
      channel = c;
      String all = join(lines).toString();
      c.closeFuture().addListener(f -> {
        if (channel == c) {
          channel = null;
        }
      });
      connect.addListener(f -> {
        if (f.isSuccess()) {
          c.writeAndFlush(ByteBufUtil.writeUtf8(c.alloc(), all));
        }
      });
      return;
    }
    if (!channel.isWritable()) {
      // Envoy closes a backed-up statsd connection and counts the overflow.
      overflow.inc();
      channel.close();
      channel = null;
      return;
    }
    channel.writeAndFlush(ByteBufUtil.writeUtf8(channel.alloc(), join(lines)));
  }

  private static StringBuilder join(List<String> lines) {
    StringBuilder sb = new StringBuilder(lines.size() * 48);
    for (String l : lines) {
      sb.append(l).append('\n');
    }
    return sb;
  }

  @Override
  public void close() {
    Runnable r = () -> {
      closed = true;
      if (channel != null) {
        channel.close();
        channel = null;
      }
    };
    if (loop.inEventLoop()) {
      r.run();
    } else {
      loop.execute(r);
    }
  }
}
