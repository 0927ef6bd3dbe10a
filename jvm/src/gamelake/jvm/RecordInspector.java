package gamelake.jvm;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.Serializable;
import java.util.HashMap;
import java.util.Map;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.api.java.UDF2;
import org.apache.spark.sql.expressions.UserDefinedFunction;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataType;

/**
 * One strict JSON pass over a record, judged against its family's declared fields.
 *
 * <p>A function of (family, text) ({@link #udf}); returns the struct of {@link #RETURN_TYPE}:
 *
 * <ul>
 *   <li>{@code is_object}: the text is one strict JSON object (RFC 8259: no single quotes, no
 *       NaN, no comments) with nothing after it;
 *   <li>{@code event_id}: its top-level {@code event_id} when that is a JSON string;
 *   <li>{@code present}: bit i of word i/64 is set when declared leaf i holds a value other than
 *       null;
 *   <li>{@code wrong_kind}: the same bits for a present value of a JSON kind its type refuses (a
 *       string field holds a non-string; a decimal field a non-number);
 *   <li>{@code drift}: an object level the contract declares holds an undeclared key.
 * </ul>
 *
 * A repeated key counts once, its last value winning, as in Spark's typed parse and variant
 * ({@code spark.sql.variant.allowDuplicateKeys}). Everything else about a record (typed values, rule messages, the rescued fields) stays in
 * Spark expressions; this pass replaces the record's variant, which cost more per row than
 * Spark's typed parse of the same text (docs/hot-path.md).
 */
public final class RecordInspector implements UDF2<String, String, Row> {
  public static final String RETURN_TYPE =
      "struct<is_object:boolean,event_id:string,present:array<bigint>,"
          + "wrong_kind:array<bigint>,drift:boolean>";

  private static final long serialVersionUID = 1L;
  // The strictness of Spark's JSON reader with gamelake's options (silver.JSON_OPTIONS):
  // Jackson's defaults refuse single quotes, NaN, comments and unescaped control characters.
  private static final JsonFactory FACTORY = new JsonFactory();
  private static final Row NOT_AN_OBJECT = RowFactory.create(false, null, null, null, false);

  /**
   * A declared object level: its leaves' bit indexes and kinds, its nested levels, the bits of
   * every leaf beneath it ({@code first} to {@code end}) and of itself and every level beneath
   * it ({@code index} to {@code levelEnd}). Both ranges are contiguous: parents come first.
   */
  private static final class Level implements Serializable {
    private static final long serialVersionUID = 1L;
    int first;
    int end;
    int index;
    int levelEnd = 1;
    final Map<String, Integer> leaf = new HashMap<>();
    final Map<String, Character> kind = new HashMap<>();
    final Map<String, Level> nested = new HashMap<>();
  }

  private static final class Family implements Serializable {
    private static final long serialVersionUID = 1L;
    final Level root = new Level();
    int leaves;
    int levels = 1;
  }

  private final Map<String, Family> families = new HashMap<>();

  /**
   * {@code spec}: JSON {@code {"family": [{"path": ["a", "b"], "kind": "string"}, ...]}}, every
   * declared field, parents first; kinds: object (a nested level), string, number, any. Leaf
   * bits are numbered in the order of the non-object entries.
   */
  public RecordInspector(String spec) throws IOException {
    JsonNode root = new ObjectMapper().readTree(spec);
    for (Map.Entry<String, JsonNode> entry : root.properties()) {
      Family family = new Family();
      for (JsonNode field : entry.getValue()) {
        JsonNode path = field.get("path");
        String kind = field.get("kind").asText();
        boolean object = kind.equals("object");
        Level level = family.root;
        for (int i = 0; i < path.size(); i++) {
          if (object) {
            level.levelEnd = family.levels + 1;
          } else {
            level.end = family.leaves + 1;
          }
          if (i == path.size() - 1) {
            break;
          }
          level = level.nested.get(path.get(i).asText());
          if (level == null) {
            throw new IllegalArgumentException(
                entry.getKey() + ": " + path + " is declared before its parent");
          }
        }
        String name = path.get(path.size() - 1).asText();
        if (object) {
          Level nested = new Level();
          nested.first = family.leaves;
          nested.end = family.leaves;
          nested.index = family.levels++;
          nested.levelEnd = family.levels;
          level.nested.put(name, nested);
        } else {
          level.leaf.put(name, family.leaves++);
          level.kind.put(name, kind.charAt(0));
        }
      }
      families.put(entry.getKey(), family);
    }
  }

  /** The inspector of `spec` (see the constructor) as a function of (family, text). */
  public static UserDefinedFunction udf(String spec) throws IOException {
    return functions.udf(new RecordInspector(spec), DataType.fromDDL(RETURN_TYPE));
  }

  /** Per record: what the pass found. */
  private static final class Found {
    final long[] present;
    final long[] wrongKind;
    final long[] drift; // by level
    String eventId;

    Found(int leaves, int levels) {
      int words = Math.max(1, (leaves + 63) / 64);
      present = new long[words];
      wrongKind = new long[words];
      drift = new long[(levels + 63) / 64];
    }

    boolean drifted() {
      for (long word : drift) {
        if (word != 0) {
          return true;
        }
      }
      return false;
    }
  }

  @Override
  public Row call(String family, String text) {
    if (text == null) {
      return NOT_AN_OBJECT;
    }
    // The variant refuses a string or key with a lone UTF-16 surrogate, which only a \\u
    // escape can write (the text was decoded from UTF-8): checked only when there is one.
    if (text.indexOf("\\u") >= 0 && !wellFormedEscapes(text)) {
      return NOT_AN_OBJECT;
    }
    Family declared = family == null ? null : families.get(family);
    Found found = new Found(declared == null ? 0 : declared.leaves, declared == null ? 1 : declared.levels);
    try (JsonParser parser = FACTORY.createParser(text)) {
      if (parser.nextToken() != JsonToken.START_OBJECT) {
        return NOT_AN_OBJECT;
      }
      walk(parser, declared == null ? null : declared.root, found, true);
      if (parser.nextToken() != null) {
        return NOT_AN_OBJECT; // trailing content
      }
    } catch (IOException e) {
      return NOT_AN_OBJECT;
    }
    return RowFactory.create(true, found.eventId, found.present, found.wrongKind, found.drifted());
  }

  /** Reads one object (its START_OBJECT already read) up to its END_OBJECT. */
  private static void walk(JsonParser parser, Level level, Found found, boolean top)
      throws IOException {
    JsonToken token;
    while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
      String name = parser.currentName();
      JsonToken value = parser.nextToken();
      if (top && name.equals("event_id")) {
        found.eventId = value == JsonToken.VALUE_STRING ? parser.getText() : null;
      }
      Integer bit = level == null ? null : level.leaf.get(name);
      Level nested = level == null ? null : level.nested.get(name);
      if (bit != null) {
        clear(found.present, bit, bit + 1); // a repeated key: its last value wins
        clear(found.wrongKind, bit, bit + 1);
        if (value != JsonToken.VALUE_NULL) {
          set(found.present, bit);
          if (!accepts(level.kind.get(name), value)) {
            set(found.wrongKind, bit);
          }
        }
        parser.skipChildren();
      } else if (nested != null) {
        clear(found.present, nested.first, nested.end);
        clear(found.wrongKind, nested.first, nested.end);
        clear(found.drift, nested.index, nested.levelEnd);
        if (value == JsonToken.START_OBJECT) {
          walk(parser, nested, found, false);
        } else {
          parser.skipChildren(); // not an object: the typed parse refuses it
        }
      } else {
        // An undeclared key at a declared level is drift. Its children are read all the same,
        // so that a malformed value still fails the record.
        if (level != null) {
          set(found.drift, level.index);
        }
        parser.skipChildren();
      }
    }
    if (token != JsonToken.END_OBJECT) {
      throw new IOException("unterminated object");
    }
  }

  /** False where a key or string of `text` holds a lone surrogate, or the text is not JSON. */
  private static boolean wellFormedEscapes(String text) {
    try (JsonParser parser = FACTORY.createParser(text)) {
      JsonToken token;
      while ((token = parser.nextToken()) != null) {
        if (token == JsonToken.FIELD_NAME || token == JsonToken.VALUE_STRING) {
          char[] chars = parser.getTextCharacters();
          int end = parser.getTextOffset() + parser.getTextLength();
          for (int i = parser.getTextOffset(); i < end; i++) {
            if (Character.isHighSurrogate(chars[i])
                && i + 1 < end
                && Character.isLowSurrogate(chars[i + 1])) {
              i++;
            } else if (Character.isSurrogate(chars[i])) {
              return false;
            }
          }
        }
      }
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static boolean accepts(char kind, JsonToken value) {
    switch (kind) {
      case 's':
        return value == JsonToken.VALUE_STRING;
      case 'n':
        return value == JsonToken.VALUE_NUMBER_INT || value == JsonToken.VALUE_NUMBER_FLOAT;
      default:
        return true;
    }
  }

  private static void set(long[] words, int bit) {
    words[bit >>> 6] |= 1L << (bit & 63);
  }

  private static void clear(long[] words, int from, int to) {
    for (int bit = from; bit < to; bit++) {
      words[bit >>> 6] &= ~(1L << (bit & 63));
    }
  }
}
