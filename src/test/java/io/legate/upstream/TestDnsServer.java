package io.legate.upstream;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.handler.codec.dns.DatagramDnsQuery;
import io.netty.handler.codec.dns.DatagramDnsQueryDecoder;
import io.netty.handler.codec.dns.DatagramDnsResponse;
import io.netty.handler.codec.dns.DatagramDnsResponseEncoder;
import io.netty.handler.codec.dns.DefaultDnsQuestion;
import io.netty.handler.codec.dns.DefaultDnsRawRecord;
import io.netty.handler.codec.dns.DnsOpCode;
import io.netty.handler.codec.dns.DnsQuestion;
import io.netty.handler.codec.dns.DnsRecordType;
import io.netty.handler.codec.dns.DnsResponseCode;
import io.netty.handler.codec.dns.DnsSection;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A tiny UDP name server on 127.0.0.1 for tests: answers A and AAAA queries from a mutable table,
 * NXDOMAIN for names it does not know.
 */
final class TestDnsServer implements AutoCloseable {
  /** One answer: an address and its TTL in seconds. */
  record Answer(String ip, long ttl) {}

  private final Map<String, List<Answer>> table = new ConcurrentHashMap<>();
  private final AtomicInteger queries = new AtomicInteger();
  private final Channel channel;

  TestDnsServer(EventLoopGroup group) throws InterruptedException {
    channel =
        new Bootstrap()
            .group(group)
            .channel(NioDatagramChannel.class)
            .handler(
                new ChannelInitializer<NioDatagramChannel>() {
                  @Override
                  protected void initChannel(NioDatagramChannel ch) {
                    ch.pipeline()
                        .addLast(new DatagramDnsQueryDecoder())
                        .addLast(new DatagramDnsResponseEncoder())
                        .addLast(new Handler());
                  }
                })
            .bind(new InetSocketAddress("127.0.0.1", 0))
            .sync()
            .channel();
  }

  InetSocketAddress address() {
    return (InetSocketAddress) channel.localAddress();
  }

  /** Sets the answers for {@code name}; an empty list answers NOERROR with no records. */
  void set(String name, Answer... answers) {
    table.put(name.toLowerCase(Locale.ROOT), List.of(answers));
  }

  /** Makes {@code name} unknown (NXDOMAIN). */
  void remove(String name) {
    table.remove(name.toLowerCase(Locale.ROOT));
  }

  int queries() {
    return queries.get();
  }

  @Override
  public void close() {
    channel.close().syncUninterruptibly();
  }

  private final class Handler extends SimpleChannelInboundHandler<DatagramDnsQuery> {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, DatagramDnsQuery query)
        throws Exception {
      queries.incrementAndGet();
      DnsQuestion question = query.recordAt(DnsSection.QUESTION);
      String name = question.name();
      String key = (name.endsWith(".") ? name.substring(0, name.length() - 1) : name)
          .toLowerCase(Locale.ROOT);
      List<Answer> answers = table.get(key);
      DatagramDnsResponse response =
          new DatagramDnsResponse(
              query.recipient(),
              query.sender(),
              query.id(),
              DnsOpCode.QUERY,
              answers == null ? DnsResponseCode.NXDOMAIN : DnsResponseCode.NOERROR);
      response.setRecursionAvailable(true);
      response.addRecord(
          DnsSection.QUESTION, new DefaultDnsQuestion(question.name(), question.type()));
      if (answers != null) {
        for (Answer a : answers) {
          byte[] bytes = InetAddress.getByName(a.ip()).getAddress();
          DnsRecordType type = bytes.length == 4 ? DnsRecordType.A : DnsRecordType.AAAA;
          if (type.equals(question.type())) {
            response.addRecord(
                DnsSection.ANSWER,
                new DefaultDnsRawRecord(name, type, a.ttl(), Unpooled.wrappedBuffer(bytes)));
          }
        }
      }
      ctx.writeAndFlush(response);
    }
  }
}
