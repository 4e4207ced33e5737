import { useConnect } from "dotnetify";

/** HelloWorldVM: each keystroke goes to the server, which answers with FullName. */
export default function HelloWorld() {
  const { vm, state, setState } = useConnect("HelloWorldVM", { FirstName: "", LastName: "", FullName: "" });

  const bind = (prop) => ({
    value: state[prop] ?? "",
    onChange: (e) => {
      const value = e.target.value;
      setState({ [prop]: value });
      vm?.$dispatch({ [prop]: value });
    },
  });

  return (
    <section className="card">
      <p className="hint">Type a name; the server view model computes the full name and pushes it back.</p>
      <div className="form-grid">
        <label htmlFor="hw-first">First name</label>
        <input id="hw-first" data-testid="hello-first" {...bind("FirstName")} />
        <label htmlFor="hw-last">Last name</label>
        <input id="hw-last" data-testid="hello-last" {...bind("LastName")} />
      </div>
      <p className="result">
        Full name is <strong data-testid="hello-fullname">{state.FullName}</strong>
      </p>
    </section>
  );
}
