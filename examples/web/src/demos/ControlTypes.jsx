import { useConnect } from "dotnetify";

const initial = {
  TextBoxValue: "",
  TextBoxPlaceHolder: "",
  TextBoxResult: null,
  SearchBox: "",
  SearchBoxPlaceHolder: "",
  SearchResults: [],
  ShowMeCheckBox: true,
  EnableMeCheckBox: true,
  CheckBoxResult: "",
  SimpleDropDownOptions: [],
  SimpleDropDownValue: "",
  SimpleDropDownResult: null,
  DropDownCaption: "",
  DropDownOptions: [],
  DropDownValue: 0,
  DropDownResult: null,
  RadioButtonValue: "",
  RadioButtonStyle: "",
  ClickCount: 0,
};

const radioChoices = ["green", "yellow"];

/** ControlTypesVM: every control sets a server property; the server answers with the result. */
export default function ControlTypes() {
  const { vm, state, setState } = useConnect("ControlTypesVM", initial);

  // Set locally for a snappy control, then let the server compute the result.
  const dispatchState = (change) => {
    setState(change);
    vm?.$dispatch(change);
  };

  return (
    <section className="card controls">
      <div className="control-row">
        <label htmlFor="ct-text">Text box</label>
        <div>
          <input
            id="ct-text"
            data-testid="ct-textbox"
            placeholder={state.TextBoxPlaceHolder}
            value={state.TextBoxValue ?? ""}
            onChange={(e) => dispatchState({ TextBoxValue: e.target.value })}
          />
          <div className="result" data-testid="ct-textbox-result">
            {state.TextBoxResult}
          </div>
        </div>
      </div>

      <div className="control-row">
        <label htmlFor="ct-search">Search box</label>
        <div>
          <input
            id="ct-search"
            data-testid="ct-search"
            placeholder={state.SearchBoxPlaceHolder}
            value={state.SearchBox ?? ""}
            onChange={(e) => dispatchState({ SearchBox: e.target.value })}
          />
          <ul className="chips" data-testid="ct-search-results">
            {(state.SearchResults ?? []).map((planet) => (
              <li key={planet}>{planet}</li>
            ))}
          </ul>
        </div>
      </div>

      <div className="control-row">
        <span className="label">Check boxes</span>
        <div>
          <label className="inline">
            <input
              type="checkbox"
              data-testid="ct-showme"
              checked={!!state.ShowMeCheckBox}
              onChange={(e) => dispatchState({ ShowMeCheckBox: e.target.checked })}
            />
            Show me
          </label>
          <label className="inline">
            <input
              type="checkbox"
              data-testid="ct-enableme"
              checked={!!state.EnableMeCheckBox}
              onChange={(e) => dispatchState({ EnableMeCheckBox: e.target.checked })}
            />
            Enable me
          </label>
          {state.ShowMeCheckBox && (
            <button type="button" className="secondary" disabled={!state.EnableMeCheckBox} data-testid="ct-checkbox-result">
              {state.CheckBoxResult}
            </button>
          )}
        </div>
      </div>

      <div className="control-row">
        <label htmlFor="ct-simple">Simple drop-down</label>
        <div>
          <select
            id="ct-simple"
            data-testid="ct-simple-dropdown"
            value={state.SimpleDropDownValue ?? ""}
            onChange={(e) => dispatchState({ SimpleDropDownValue: e.target.value })}
          >
            <option value="" disabled>
              Choose…
            </option>
            {(state.SimpleDropDownOptions ?? []).map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
          <div className="result" data-testid="ct-simple-dropdown-result">
            {state.SimpleDropDownResult}
          </div>
        </div>
      </div>

      <div className="control-row">
        <label htmlFor="ct-drop">Drop-down</label>
        <div>
          <select
            id="ct-drop"
            data-testid="ct-dropdown"
            value={String(state.DropDownValue ?? 0)}
            onChange={(e) => dispatchState({ DropDownValue: e.target.value })}
          >
            <option value="0" disabled>
              {state.DropDownCaption}
            </option>
            {(state.DropDownOptions ?? []).map((o) => (
              <option key={o.Id} value={String(o.Id)}>
                {o.Text}
              </option>
            ))}
          </select>
          <div className="result" data-testid="ct-dropdown-result">
            {state.DropDownResult}
          </div>
        </div>
      </div>

      <div className="control-row">
        <span className="label">Radio buttons</span>
        <div>
          {radioChoices.map((color) => (
            <label className="inline" key={color}>
              <input
                type="radio"
                name="ct-radio"
                value={color}
                data-testid={`ct-radio-${color}`}
                checked={state.RadioButtonValue === color}
                onChange={() => dispatchState({ RadioButtonValue: color })}
              />
              {color}
            </label>
          ))}
          <span className={`swatch ${state.RadioButtonStyle}`} data-testid="ct-radio-style">
            {state.RadioButtonStyle}
          </span>
        </div>
      </div>

      <div className="control-row">
        <span className="label">Button</span>
        <div>
          <button type="button" data-testid="ct-button" onClick={() => vm?.$dispatch({ ButtonClicked: true })}>
            Click me
          </button>
          <span className="result">
            Clicked <strong data-testid="ct-click-count">{state.ClickCount}</strong> times
          </span>
        </div>
      </div>
    </section>
  );
}
