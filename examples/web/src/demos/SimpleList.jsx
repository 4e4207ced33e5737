import { useState } from "react";
import { useConnect } from "dotnetify";

// An input that shows the server's value and sends an edit on Enter or blur.
function InlineEdit({ value, onCommit, testId, label }) {
  const [draft, setDraft] = useState(null);
  const commit = () => {
    if (draft !== null && draft.trim() !== "" && draft !== value) onCommit(draft.trim());
    setDraft(null);
  };
  return (
    <input
      className="inline-edit"
      aria-label={label}
      data-testid={testId}
      value={draft ?? value ?? ""}
      onChange={(e) => setDraft(e.target.value)}
      onBlur={commit}
      onKeyDown={(e) => {
        if (e.key === "Enter") commit();
        if (e.key === "Escape") setDraft(null);
      }}
    />
  );
}

/** SimpleListVM: one list shared by every viewer; adds, edits and removals reach them all. */
export default function SimpleList() {
  const { vm, state } = useConnect("SimpleListVM", { Employees: [] });
  const [fullName, setFullName] = useState("");
  const employees = state.Employees ?? [];

  const add = () => {
    const name = fullName.trim();
    if (name === "") return;
    vm?.$dispatch({ Add: name });
    setFullName("");
  };

  return (
    <section className="card">
      <p className="hint">Open this page in a second window: every change shows up in both.</p>
      <form
        className="add-row"
        onSubmit={(e) => {
          e.preventDefault();
          add();
        }}
      >
        <input
          placeholder="Type full name here"
          data-testid="list-new-name"
          value={fullName}
          onChange={(e) => setFullName(e.target.value)}
        />
        <button type="submit" data-testid="list-add">
          Add
        </button>
      </form>
      <table className="list" data-testid="list-table" data-count={employees.length}>
        <thead>
          <tr>
            <th>First name</th>
            <th>Last name</th>
            <th aria-label="Remove" />
          </tr>
        </thead>
        <tbody>
          {employees.map((e) => (
            <tr key={e.Id} data-testid="list-row" data-id={e.Id} data-name={`${e.FirstName} ${e.LastName}`}>
              <td>
                <InlineEdit
                  label={`First name of ${e.FirstName} ${e.LastName}`}
                  testId="list-first"
                  value={e.FirstName}
                  onCommit={(FirstName) => vm?.$dispatch({ Update: { Id: e.Id, FirstName } })}
                />
              </td>
              <td>
                <InlineEdit
                  label={`Last name of ${e.FirstName} ${e.LastName}`}
                  testId="list-last"
                  value={e.LastName}
                  onCommit={(LastName) => vm?.$dispatch({ Update: { Id: e.Id, LastName } })}
                />
              </td>
              <td>
                <button
                  type="button"
                  className="icon"
                  title="Remove"
                  data-testid="list-remove"
                  onClick={() => vm?.$dispatch({ Remove: e.Id })}
                >
                  ×
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
