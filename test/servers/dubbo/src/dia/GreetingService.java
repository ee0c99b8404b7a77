package dia;

/** The interface the test providers export, in several versions, groups and protocols. */
public interface GreetingService {
    String greet(String name);
}
