// The five transcripts of dotnetify-protocol.md §9, run by the real dotnetify
// client through the local gateway and the integration server. After every
// step the test checks the frame the client received and the client-side
// state; values the spec marks as examples are checked for shape.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { DotnetifyClient, takeConsoleErrors } from "./lib/client.mjs";
import { allReceive, assertNoClientErrors, assertShape } from "./lib/checks.mjs";
import { defaultTemplate, dotnetifyTemplate, startStack } from "./lib/stack.mjs";

// The same transcripts behind the API our stack synthesizes and behind the one
// dotNetify publishes (which sends only the connection id to the server).
const templates = [
  ["our template", defaultTemplate()],
  ["dotNetify's template", dotnetifyTemplate],
];

const clients = [];

function newClient(url, name) {
  const c = new DotnetifyClient(url, name);
  clients.push(c);
  return c;
}

afterEach(() => {
  const these = clients.splice(0);
  try {
    assertNoClientErrors(these);
  } finally {
    these.forEach((c) => c.close());
  }
});

function assertWaveRow(row, x) {
  assert.ok(Array.isArray(row) && row.length === 2, `waveform row ${x}: ${JSON.stringify(row)}`);
  assert.equal(row[0], String(x));
  assert.equal(typeof row[1], "string");
  assert.ok(Math.abs(Number(row[1]) - Math.sin(x / Math.PI)) < 1e-9, `row ${x}: ${row[1]} is not sin(${x}/π)`);
}

for (const [label, template] of templates) {
  describe(`per-connection view models, ${label}`, () => {
    let stack;
    before(async () => {
      takeConsoleErrors();
      stack = await startStack({ template });
    });
    after(() => stack?.stop());

    test("HelloWorld: full state, then FullName follows each name", async () => {
      const c = newClient(stack.websocketUrl, "A");
      const vm = c.connect("HelloWorldVM");

      const initial = { FirstName: "Hello", LastName: "World", FullName: "Hello World" };
      assert.deepEqual(await vm.nextResponse(), initial);
      assert.deepEqual(vm.state, initial);

      vm.dispatchState({ FirstName: "Jane" });
      assert.deepEqual(await vm.nextResponse(), { FullName: "Jane World" });
      assert.deepEqual(vm.state, { FirstName: "Jane", LastName: "World", FullName: "Jane World" });

      vm.dispatchState({ LastName: "Doe" });
      assert.deepEqual(await vm.nextResponse(), { FullName: "Jane Doe" });
      assert.deepEqual(vm.state, { FirstName: "Jane", LastName: "Doe", FullName: "Jane Doe" });

      vm.destroy();
      assert.deepEqual(c.sent(), [
        { callType: "request_vm", vmId: "HelloWorldVM", vmArgs: "{}" },
        { callType: "update_vm", vmId: "HelloWorldVM", value: '{"FirstName":"Jane"}' },
        { callType: "update_vm", vmId: "HelloWorldVM", value: '{"LastName":"Doe"}' },
        { callType: "dispose_vm", vmId: "HelloWorldVM" },
      ]);
    });

    test("ControlTypes: every control's result, with string-to-int coercion and commands", async () => {
      const c = newClient(stack.websocketUrl, "A");
      const vm = c.connect("ControlTypesVM");
      const initial = {
        TextBoxValue: "",
        TextBoxPlaceHolder: "Type something here",
        TextBoxResult: null,
        SearchBox: "",
        SearchBoxPlaceHolder: "Type a planet",
        SearchResults: [],
        ShowMeCheckBox: true,
        EnableMeCheckBox: true,
        CheckBoxResult: "Enabled",
        SimpleDropDownOptions: ["One", "Two", "Three", "Four"],
        SimpleDropDownValue: "",
        SimpleDropDownResult: null,
        DropDownCaption: "Select an item ...",
        DropDownOptions: [
          { Id: 1, Text: "Object One" },
          { Id: 2, Text: "Object Two" },
          { Id: 3, Text: "Object Three" },
          { Id: 4, Text: "Object Four" },
        ],
        DropDownValue: 0,
        DropDownResult: null,
        RadioButtonValue: "green",
        RadioButtonStyle: "label-success",
        ButtonClicked: null,
        ClickCount: 0,
      };
      assert.deepEqual(await vm.nextResponse(), initial);
      assert.deepEqual(vm.state, initial);

      const steps = [
        [{ TextBoxValue: "abc" }, { TextBoxResult: "You typed: abc" }],
        [{ SearchBox: "m" }, { SearchResults: ["Mercury", "Mars"] }],
        [{ EnableMeCheckBox: false }, { CheckBoxResult: "Disabled" }],
        [{ ShowMeCheckBox: false }, { CheckBoxResult: "Disabled" }],
        [{ SimpleDropDownValue: "Two" }, { SimpleDropDownResult: "You selected: Two" }],
        [{ DropDownValue: "2" }, { DropDownResult: "You selected: Object Two" }],
        [{ RadioButtonValue: "yellow" }, { RadioButtonStyle: "label-warning" }],
      ];
      let expected = { ...initial };
      for (const [change, reply] of steps) {
        vm.dispatchState(change);
        assert.deepEqual(await vm.nextResponse(), reply, `reply to ${JSON.stringify(change)}`);
        expected = { ...expected, ...change, ...reply };
        assert.deepEqual(vm.state, expected, `state after ${JSON.stringify(change)}`);
      }

      vm.dispatch({ ButtonClicked: true });
      assert.deepEqual(await vm.nextResponse(), { ClickCount: 1 });
      assert.equal(vm.state.ClickCount, 1);
      vm.dispatch({ ButtonClicked: true });
      assert.deepEqual(await vm.nextResponse(), { ClickCount: 2 });
      assert.deepEqual(vm.state, { ...expected, ClickCount: 2 });
    });

    test("LiveChart: a sine waveform, then one pushed point, bars and pie per tick", async () => {
      const c = newClient(stack.websocketUrl, "A");
      const vm = c.connect("LiveChartVM");

      const initial = await vm.nextResponse();
      assert.deepEqual(Object.keys(initial).sort(), ["Bar", "Pie", "Waveform"]);
      assert.equal(initial.Waveform.length, 30);
      initial.Waveform.forEach((row, i) => assertWaveRow(row, i + 1));
      assert.equal(initial.Bar.length, 8);
      initial.Bar.forEach((v, i) => assertShape(v, "int", `Bar[${i}]`));
      assert.equal(initial.Pie.length, 3);
      initial.Pie.forEach((v, i) => assertShape(v, "unit", `Pie[${i}]`));
      assert.deepEqual(vm.state, initial);

      for (const x of [31, 32]) {
        const push = await vm.nextResponse();
        assert.deepEqual(Object.keys(push).sort(), ["Bar", "Pie", "Waveform_add"]);
        assertWaveRow(push.Waveform_add, x);
        assert.equal(push.Bar.length, 12);
        push.Bar.forEach((v, i) => assertShape(v, "int", `Bar[${i}]`));
        assert.equal(push.Pie.length, 3);
        push.Pie.forEach((v, i) => assertShape(v, "unit", `Pie[${i}]`));
        // The client appends the row as one element: the list holds arrays.
        assert.equal(vm.state.Waveform.length, x);
        assert.deepEqual(vm.state.Waveform.at(-1), push.Waveform_add);
        assert.deepEqual(vm.state.Bar, push.Bar);
        assert.deepEqual(vm.state.Pie, push.Pie);
        assert.equal(Object.hasOwn(vm.state, "Waveform_add"), false);
      }
      vm.destroy();
    });
  });

  for (const n of [2, 50]) {
    describe(`shared view models with ${n} clients, ${label}`, () => {
      let stack;
      // Each shared demo starts from a fresh server, so its state is the spec's.
      before(() => takeConsoleErrors());
      afterEach(() => stack?.stop());

      test(`SimpleList: add, update and remove reach all ${n} clients`, async () => {
        stack = await startStack({ template });
        const cs = Array.from({ length: n }, (_, i) => newClient(stack.websocketUrl, `client${i + 1}`));
        const vms = [];
        // One after the other, as in the transcript: A's full state first.
        for (const c of cs) {
          const vm = c.connect("SimpleListVM");
          vms.push(vm);
          await vm.waitFor((s) => Array.isArray(s.Employees), "the full state");
        }
        const [a] = vms;
        const full = await a.nextResponse();
        assert.deepEqual(Object.keys(full).sort(), ["Employees", "Employees_itemKey"]);
        assert.equal(full.Employees_itemKey, "Id");
        assert.deepEqual(full.Employees.map((e) => e.Id), [1, 2, 3, 4, 5, 6, 7]);
        full.Employees.forEach((e) => {
          assert.deepEqual(Object.keys(e).sort(), ["FirstName", "Id", "LastName"]);
          assertShape(e.FirstName, "nonempty", "FirstName");
          assertShape(e.LastName, "nonempty", "LastName");
        });
        for (const vm of vms.slice(1)) assert.deepEqual(await vm.nextResponse(), full, `${vm.label()} full state`);
        for (const vm of vms) assert.deepEqual(vm.state, { Employees: full.Employees }, `${vm.label()} state`);

        a.dispatch({ Add: "John Smith" });
        const john = { Id: 8, FirstName: "John", LastName: "Smith" };
        await allReceive(vms, { Employees_add: john });
        for (const vm of vms) assert.deepEqual(vm.state.Employees, [...full.Employees, john], `${vm.label()} after add`);

        a.dispatch({ Update: { Id: 8, FirstName: "Johnny" } });
        const johnny = { Id: 8, FirstName: "Johnny", LastName: "Smith" };
        await allReceive(vms, { Employees_update: johnny });
        for (const vm of vms) assert.deepEqual(vm.state.Employees, [...full.Employees, johnny], `${vm.label()} after update`);

        a.dispatch({ Remove: 8 });
        await allReceive(vms, { Employees_remove: 8 });
        for (const vm of vms) assert.deepEqual(vm.state, { Employees: full.Employees }, `${vm.label()} after remove`);
      });

      test(`ChatRoom: ${n} users join, rename, whisper and leave`, async () => {
        stack = await startStack({ template });
        const cs = Array.from({ length: n }, (_, i) => newClient(stack.websocketUrl, `client${i + 1}`));
        const vms = [];
        const users = [];
        for (const [i, c] of cs.entries()) {
          const vm = c.connect("ChatRoomVM");
          const full = await vm.nextResponse();
          assert.deepEqual(full, { Messages: [], Users: users, Messages_itemKey: "Id", Users_itemKey: "Id" }, `${vm.label()} full state`);
          assert.deepEqual(vm.state, { Messages: [], Users: users });

          const correlationId = `0.${i + 1}`;
          vm.dispatch({ AddUser: correlationId });
          vms.push(vm);
          const added = await vm.nextResponse();
          assert.deepEqual(Object.keys(added), ["Users_add"]);
          const user = added.Users_add;
          assert.deepEqual(Object.keys(user).sort(), ["Browser", "CorrelationId", "Id", "IpAddress", "Name"]);
          assertShape(user.Id, "nonempty", "Id");
          assert.equal(user.CorrelationId, correlationId);
          assert.equal(user.Name, `user${i + 1}`);
          assertShape(user.IpAddress, "string?", "IpAddress");
          assertShape(user.Browser, "string?", "Browser");
          assert.ok(!users.some((u) => u.Id === user.Id), "user ids are distinct");
          users.push(user);
          await allReceive(vms.slice(0, -1), added);
          for (const v of vms) assert.deepEqual(v.state.Users, users, `${v.label()} users`);
        }

        const [a, b] = vms;
        const [ann, bob] = users;
        a.dispatch({ SendMessage: { Text: "my name is Ann", Date: "2024-05-01T10:00:00.000Z", UserName: "Ann" } });
        const renamed = await a.nextResponse();
        assert.deepEqual(Object.keys(renamed).sort(), ["Messages_add", "Users_update"]);
        assert.deepEqual(renamed.Users_update, { ...ann, Name: "Ann" });
        const message = renamed.Messages_add;
        assertShape(message.Id, "int", "message Id");
        assert.deepEqual(message, {
          Id: message.Id,
          UserId: ann.Id,
          UserName: "Ann",
          Date: "2024-05-01T10:00:00+00:00",
          Text: "my name is Ann",
        });
        await allReceive(vms.slice(1), renamed);
        users[0] = { ...ann, Name: "Ann" };
        for (const v of vms) {
          assert.deepEqual(v.state.Users, users, `${v.label()} users after rename`);
          assert.deepEqual(v.state.Messages, [message], `${v.label()} messages`);
        }

        a.dispatch({ SendMessage: { Text: `${bob.Name}: psst`, Date: "2024-05-01T10:01:00.000Z", UserName: "" } });
        const whisper = await b.nextResponse();
        assert.deepEqual(Object.keys(whisper), ["PrivateMessage"]);
        assertShape(whisper.PrivateMessage.Id, "int", "private message Id");
        assert.deepEqual(whisper.PrivateMessage, {
          Id: whisper.PrivateMessage.Id,
          UserId: ann.Id,
          UserName: "Ann",
          Date: "2024-05-01T10:01:00+00:00",
          Text: "user2: psst",
        });
        assert.deepEqual(await a.nextResponse(), whisper);
        for (const v of [a, b]) assert.deepEqual(v.state.PrivateMessage, whisper.PrivateMessage);

        // Everyone else's next frame is the removal: the whisper reached only two.
        b.dispatch({ RemoveUser: null });
        await allReceive(vms, { Users_remove: bob.Id });
        users.splice(1, 1);
        for (const v of vms) assert.deepEqual(v.state.Users, users, `${v.label()} users after leave`);
        for (const v of vms.slice(2)) assert.equal(Object.hasOwn(v.state, "PrivateMessage"), false, `${v.label()} saw the whisper`);
        b.destroy();
        assert.deepEqual(cs[1].sent().at(-1), { callType: "dispose_vm", vmId: "ChatRoomVM" });
      });
    });
  }
}
