package viewmodels

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/wsgate/wsgate/server/vm"
)

// Employee is one row of SimpleList. The client may edit names in place with
// $dispatchListState.
type Employee struct {
	Id        int
	FirstName string `vm:"write"`
	LastName  string `vm:"write"`
}

// EmployeeChange is the argument of Update: missing names keep their old value.
type EmployeeChange struct {
	Id        int
	FirstName *string
	LastName  *string
}

// SimpleList is dotNetify's SimpleListVM: a list shared by everyone in the same group (the
// source IP, as in the original) with add, update and remove.
type SimpleList struct {
	vm.Base
	Employees []*Employee `vm:"itemkey=Id"`
	nextID    int
}

var sampleNames = [][2]string{
	{"Ann", "Lee"}, {"Bo", "Kim"}, {"Carla", "Diaz"}, {"Dev", "Patel"},
	{"Eve", "Novak"}, {"Femi", "Okafor"}, {"Gus", "Berg"},
}

// NewSimpleList starts with seven employees.
func NewSimpleList(*vm.Request) (*SimpleList, error) {
	l := &SimpleList{}
	for _, n := range sampleNames {
		l.nextID++
		l.Employees = append(l.Employees, &Employee{Id: l.nextID, FirstName: n[0], LastName: n[1]})
	}
	return l, nil
}

// The list is shared by every client behind one address, and its full state goes to each
// joiner in one frame: it holds at most maxEmployees rows of names up to maxNameBytes.
const maxEmployees = 100

var errLongName = &vm.Exception{Type: "ArgumentException", Message: fmt.Sprintf("a name may have at most %d bytes", maxNameBytes)}

// Add appends an employee from a "First Last" name.
func (l *SimpleList) Add(fullName string) error {
	first, last, _ := strings.Cut(strings.TrimSpace(fullName), " ")
	last = strings.TrimSpace(last)
	if len(first) > maxNameBytes || len(last) > maxNameBytes {
		return errLongName
	}
	if len(l.Employees) >= maxEmployees {
		return &vm.Exception{Type: "InvalidOperationException", Message: fmt.Sprintf("the list holds %d employees, the limit", maxEmployees)}
	}
	l.nextID++
	e := &Employee{Id: l.nextID, FirstName: printable(first), LastName: printable(last)}
	l.Employees = append(l.Employees, e)
	l.AddList("Employees", e)
	return nil
}

// Update changes the names given in c.
func (l *SimpleList) Update(c EmployeeChange) error {
	e := l.find(c.Id)
	if e == nil {
		return nil
	}
	if (c.FirstName != nil && len(*c.FirstName) > maxNameBytes) || (c.LastName != nil && len(*c.LastName) > maxNameBytes) {
		return errLongName
	}
	if c.FirstName != nil {
		e.FirstName = printable(*c.FirstName)
	}
	if c.LastName != nil {
		e.LastName = printable(*c.LastName)
	}
	l.UpdateList("Employees", e)
	return nil
}

// Remove deletes the employee with id.
func (l *SimpleList) Remove(id int) {
	if l.find(id) == nil {
		return
	}
	l.Employees = slices.DeleteFunc(l.Employees, func(e *Employee) bool { return e.Id == id })
	l.RemoveList("Employees", id)
}

// ListItem resolves "Employees.$<id>" paths for in-place edits.
func (l *SimpleList) ListItem(list, key string) (any, bool) {
	id, err := strconv.Atoi(key)
	if list != "Employees" || err != nil {
		return nil, false
	}
	e := l.find(id)
	return e, e != nil
}

// OnPropertySet pushes an in-place edit to every member. The runtime has already stored
// the value: a name over the limit is cut back (every member gets the cut name) and the
// editor is told.
func (l *SimpleList) OnPropertySet(_ context.Context, name string) error {
	rest, ok := strings.CutPrefix(name, "Employees.$")
	if !ok {
		return nil
	}
	key, _, _ := strings.Cut(rest, ".")
	id, err := strconv.Atoi(key)
	if err != nil {
		return nil
	}
	e := l.find(id)
	if e == nil {
		return nil
	}
	var tooLong error
	for _, n := range []*string{&e.FirstName, &e.LastName} {
		if len(*n) > maxNameBytes {
			*n, tooLong = clipBytes(*n, maxNameBytes), errLongName
		}
		*n = printable(*n)
	}
	l.UpdateList("Employees", e)
	return tooLong
}

func (l *SimpleList) find(id int) *Employee {
	for _, e := range l.Employees {
		if e.Id == id {
			return e
		}
	}
	return nil
}
