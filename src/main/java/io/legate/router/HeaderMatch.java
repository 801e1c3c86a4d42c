package io.legate.router;

import io.envoyproxy.envoy.config.route.v3.HeaderMatcher;
import io.envoyproxy.envoy.type.matcher.v3.StringMatcher;
import io.legate.config.ConfigException;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.List;
import java.util.Locale;

/**
 * Envoy's HeaderMatcher. Several values of one header are joined with {@code ,} before matching.
 * A missing header fails every match except {@code present_match: false}; with {@code invert_match}
 * a missing header matches only {@code present_match: true}. With {@code
 * treat_missing_header_as_empty} a missing header is matched as "".
 */
public final class HeaderMatch {
  private enum Kind {
    STRING,
    EXACT_OR_ANY,
    PRESENT,
    RANGE
  }

  private final AsciiString name;
  private final Kind kind;
  private final StringMatch string;
  private final String exact;
  private final boolean present;
  private final long start;
  private final long end;
  private final boolean invert;
  private final boolean missingAsEmpty;

  private HeaderMatch(AsciiString name, Kind kind, StringMatch string, String exact, boolean present,
      long start, long end, boolean invert, boolean missingAsEmpty) {
    this.name = name;
    this.kind = kind;
    this.string = string;
    this.exact = exact;
    this.present = present;
    this.start = start;
    this.end = end;
    this.invert = invert;
    this.missingAsEmpty = missingAsEmpty;
  }

  /** Builds a matcher from Envoy's HeaderMatcher; errors name {@code path}. */
  public static HeaderMatch build(HeaderMatcher m, String path) {
    if (m.getName().isEmpty()) {
      throw new ConfigException(path + ".name", "must not be empty");
    }
    AsciiString name = AsciiString.of(m.getName().toLowerCase(Locale.ROOT));
    Kind kind;
    StringMatch sm = null;
    String exact = null;
    boolean present = true;
    long start = 0;
    long end = 0;
    switch (m.getHeaderMatchSpecifierCase()) {
      case STRING_MATCH -> {
        kind = Kind.STRING;
        sm = StringMatch.build(m.getStringMatch(), path + ".string_match");
      }
      case EXACT_MATCH -> {
        kind = Kind.EXACT_OR_ANY;
        exact = m.getExactMatch();
      }
      case PREFIX_MATCH -> {
        kind = Kind.STRING;
        sm = StringMatch.build(StringMatcher.newBuilder().setPrefix(m.getPrefixMatch()).build(), path + ".prefix_match");
      }
      case SUFFIX_MATCH -> {
        kind = Kind.STRING;
        sm = StringMatch.build(StringMatcher.newBuilder().setSuffix(m.getSuffixMatch()).build(), path + ".suffix_match");
      }
      case CONTAINS_MATCH -> {
        kind = Kind.STRING;
        sm = StringMatch.build(StringMatcher.newBuilder().setContains(m.getContainsMatch()).build(), path + ".contains_match");
      }
      case SAFE_REGEX_MATCH -> {
        kind = Kind.STRING;
        sm = new StringMatch(StringMatch.Kind.REGEX, null,
            Regexes.compile(m.getSafeRegexMatch(), path + ".safe_regex_match"), false);
      }
      case RANGE_MATCH -> {
        kind = Kind.RANGE;
        start = m.getRangeMatch().getStart();
        end = m.getRangeMatch().getEnd();
      }
      case PRESENT_MATCH -> {
        kind = Kind.PRESENT;
        present = m.getPresentMatch();
      }
      default -> kind = Kind.PRESENT;
    }
    return new HeaderMatch(name, kind, sm, exact, present, start, end, m.getInvertMatch(),
        m.getTreatMissingHeaderAsEmpty());
  }

  /** Returns whether the headers satisfy this matcher. */
  public boolean matches(Http2Headers headers) {
    String value = joined(headers, name);
    if (value == null && !missingAsEmpty) {
      return kind == Kind.PRESENT && (invert ? present : !present);
    }
    if (value == null) {
      value = "";
    }
    boolean m =
        switch (kind) {
          case STRING -> string.matches(value);
          case EXACT_OR_ANY -> exact.isEmpty() || value.equals(exact);
          case PRESENT -> present;
          case RANGE -> inRange(value);
        };
    return m != invert;
  }

  private boolean inRange(String v) {
    try {
      long x = Long.parseLong(v);
      return x >= start && x < end;
    } catch (NumberFormatException e) {
      return false;
    }
  }

  /** Returns all values of a header joined with ',', or null if absent. */
  static String joined(Http2Headers headers, AsciiString name) {
    List<CharSequence> all = headers.getAll(name);
    if (all.isEmpty()) {
      return null;
    }
    if (all.size() == 1) {
      return all.get(0).toString();
    }
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < all.size(); i++) {
      if (i > 0) {
        sb.append(',');
      }
      sb.append(all.get(i));
    }
    return sb.toString();
  }
}
