package io.legate.router;

import io.envoyproxy.envoy.type.matcher.v3.RegexMatchAndSubstitute;
import io.envoyproxy.envoy.type.matcher.v3.RegexMatcher;
import io.legate.config.ConfigException;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/** Compiles Envoy's RE2 regexes with java.util.regex, refusing constructs RE2 lacks. */
final class Regexes {
  private Regexes() {}

  /** Compiles {@code matcher.regex}; path is the RegexMatcher's path. */
  static Pattern compile(RegexMatcher matcher, String path) {
    return compile(matcher.getRegex(), path + ".regex");
  }

  static Pattern compile(String regex, String path) {
    if (regex.isEmpty()) {
      throw new ConfigException(path, "regex must not be empty");
    }
    // RE2 has no backreferences or lookaround; refuse them rather than behave differently.
    for (int i = 0; i < regex.length() - 1; i++) {
      char c = regex.charAt(i);
      if (c == '\\') {
        char n = regex.charAt(i + 1);
        if (n >= '1' && n <= '9') {
          throw new ConfigException(path, "invalid regex '" + regex + "': backreferences are not supported");
        }
        i++;
      } else if (c == '(' && regex.charAt(i + 1) == '?' && i + 2 < regex.length()
          && (regex.charAt(i + 2) == '=' || regex.charAt(i + 2) == '!'
              || (regex.charAt(i + 2) == '<' && i + 3 < regex.length()
                  && (regex.charAt(i + 3) == '=' || regex.charAt(i + 3) == '!')))) {
        throw new ConfigException(path, "invalid regex '" + regex + "': lookaround is not supported");
      }
    }
    try {
      return Pattern.compile(regex);
    } catch (PatternSyntaxException e) {
      throw new ConfigException(path, "invalid regex '" + regex + "': " + e.getDescription());
    }
  }

  /** A compiled regex_rewrite: pattern plus a substitution in java.util.regex syntax. */
  record Substitution(Pattern pattern, String replacement) {
    String replaceAll(CharSequence input) {
      return pattern.matcher(input).replaceAll(replacement);
    }
  }

  /** Compiles a RegexMatchAndSubstitute, translating RE2's {@code \1} to Java's {@code $1}. */
  static Substitution substitution(RegexMatchAndSubstitute s, String path) {
    Pattern p = compile(s.getPattern(), path + ".pattern");
    String sub = s.getSubstitution();
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < sub.length(); i++) {
      char c = sub.charAt(i);
      if (c == '\\' && i + 1 < sub.length()) {
        char n = sub.charAt(i + 1);
        if (n >= '0' && n <= '9') {
          if (n - '0' > p.matcher("").groupCount()) {
            throw new ConfigException(path + ".substitution",
                "invalid substitution '" + sub + "': group " + n + " does not exist");
          }
          out.append('$').append(n);
          i++;
          continue;
        }
        if (n == '\\') {
          out.append("\\\\");
          i++;
          continue;
        }
      }
      if (c == '$' || c == '\\') {
        out.append('\\');
      }
      out.append(c);
    }
    return new Substitution(p, out.toString());
  }
}
