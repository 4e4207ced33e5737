package viewmodels

import (
	"context"
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

// Add appends an employee from a "First Last" name.
func (l *SimpleList) Add(fullName string) {
	first, last, _ := strings.Cut(strings.TrimSpace(fullName), " ")
	l.nextID++
	e := &Employee{Id: l.nextID, FirstName: first, LastName: strings.TrimSpace(last)}
	l.Employees = append(l.Employees, e)
	l.AddList("Employees", e)
}

// Update changes the names given in c.
func (l *SimpleList) Update(c EmployeeChange) {
	e := l.find(c.Id)
	if e == nil {
		return
	}
	if c.FirstName != nil {
		e.FirstName = *c.FirstName
	}
	if c.LastName != nil {
		e.LastName = *c.LastName
	}
	l.UpdateList("Employees", e)
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

// OnPropertySet pushes an in-place edit to every member.
func (l *SimpleList) OnPropertySet(_ context.Context, name string) error {
	if rest, ok := strings.CutPrefix(name, "Employees.$"); ok {
		key, _, _ := strings.Cut(rest, ".")
		if id, err := strconv.Atoi(key); err == nil {
			if e := l.find(id); e != nil {
				l.UpdateList("Employees", e)
			}
		}
	}
	return nil
}

func (l *SimpleList) find(id int) *Employee {
	for _, e := range l.Employees {
		if e.Id == id {
			return e
		}
	}
	return nil
}
