package io.legate.http;

import io.netty.channel.Channel;
import java.net.InetSocketAddress;

/** What the streams of one downstream connection share. Immutable; one per connection. */
public record ConnectionInfo(
    HcmConfig config,
    Channel channel,
    InetSocketAddress remoteAddress,
    InetSocketAddress localAddress,
    boolean tls,
    String protocol) {}
