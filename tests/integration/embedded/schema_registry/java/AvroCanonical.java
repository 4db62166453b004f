// Reads base64-encoded schema texts, one per line, and prints for each either
// "OK <base64 of Schema.toString()>" or "ERR <exception>: <message>" — what Apache Avro's
// Java parser (the one Confluent Schema Registry uses) makes of it. Test tool only.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.apache.avro.Schema;

public class AvroCanonical {
  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    PrintStream out = new PrintStream(System.out, true, "UTF-8");
    String line;
    while ((line = in.readLine()) != null) {
      String text = new String(Base64.getDecoder().decode(line.trim()), StandardCharsets.UTF_8);
      try {
        Schema schema = new Schema.Parser().setValidateDefaults(true).parse(text);
        out.println("OK " + Base64.getEncoder().encodeToString(schema.toString().getBytes(StandardCharsets.UTF_8)));
      } catch (Exception e) {
        out.println("ERR " + e.getClass().getSimpleName() + ": " + String.valueOf(e.getMessage()).replace('\n', ' '));
      }
    }
  }
}
