package viewmodels

import (
	"context"
	"strings"

	"github.com/wsgate/wsgate/server/vm"
)

// DropDownItem is one option of ControlTypes' object drop-down.
type DropDownItem struct {
	Id   int
	Text string
}

// ControlTypes is dotNetify's ControlTypesVM: one property per kind of form control.
type ControlTypes struct {
	vm.Base
	TextBoxValue          string `vm:"write"`
	TextBoxPlaceHolder    string
	TextBoxResult         *string
	SearchBox             string `vm:"write"`
	SearchBoxPlaceHolder  string
	SearchResults         []string
	ShowMeCheckBox        bool `vm:"write"`
	EnableMeCheckBox      bool `vm:"write"`
	CheckBoxResult        string
	SimpleDropDownOptions []string
	SimpleDropDownValue   string `vm:"write"`
	SimpleDropDownResult  *string
	DropDownCaption       string
	DropDownOptions       []DropDownItem
	DropDownValue         int `vm:"write"`
	DropDownResult        *string
	RadioButtonValue      string `vm:"write"`
	RadioButtonStyle      string
	ButtonClicked         func(bool) `vm:"command"`
	ClickCount            int
}

var planets = []string{"Mercury", "Venus", "Earth", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune"}

// NewControlTypes returns the demo's initial state.
func NewControlTypes(*vm.Request) (*ControlTypes, error) {
	c := &ControlTypes{
		TextBoxPlaceHolder:    "Type something here",
		SearchBoxPlaceHolder:  "Type a planet",
		SearchResults:         []string{},
		ShowMeCheckBox:        true,
		EnableMeCheckBox:      true,
		CheckBoxResult:        "Enabled",
		SimpleDropDownOptions: []string{"One", "Two", "Three", "Four"},
		DropDownCaption:       "Select an item ...",
		DropDownOptions: []DropDownItem{
			{1, "Object One"}, {2, "Object Two"}, {3, "Object Three"}, {4, "Object Four"},
		},
		RadioButtonValue: "green",
		RadioButtonStyle: "label-success",
	}
	c.ButtonClicked = func(bool) {
		c.ClickCount++
		c.Changed("ClickCount")
	}
	return c, nil
}

// OnPropertySet derives the result properties from the control that changed.
func (c *ControlTypes) OnPropertySet(_ context.Context, name string) error {
	switch name {
	case "TextBoxValue":
		c.TextBoxResult = ptr("You typed: " + c.TextBoxValue)
		c.Changed("TextBoxResult")
	case "SearchBox":
		c.SearchResults = searchPlanets(c.SearchBox)
		c.Changed("SearchResults")
	case "ShowMeCheckBox", "EnableMeCheckBox":
		// Like the original setters, both re-send the result even when it did not change.
		c.CheckBoxResult = "Disabled"
		if c.EnableMeCheckBox {
			c.CheckBoxResult = "Enabled"
		}
		c.Changed("CheckBoxResult")
	case "SimpleDropDownValue":
		c.SimpleDropDownResult = ptr("You selected: " + c.SimpleDropDownValue)
		c.Changed("SimpleDropDownResult")
	case "DropDownValue":
		for _, o := range c.DropDownOptions {
			if o.Id == c.DropDownValue {
				c.DropDownResult = ptr("You selected: " + o.Text)
				c.Changed("DropDownResult")
			}
		}
	case "RadioButtonValue":
		c.RadioButtonStyle = "label-warning"
		if c.RadioButtonValue == "green" {
			c.RadioButtonStyle = "label-success"
		}
		c.Changed("RadioButtonStyle")
	}
	return nil
}

func searchPlanets(prefix string) []string {
	out := []string{}
	if prefix == "" {
		return out
	}
	for _, p := range planets {
		if strings.HasPrefix(strings.ToLower(p), strings.ToLower(prefix)) {
			out = append(out, p)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }
