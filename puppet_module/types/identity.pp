# @summary A node identity as pymcod accepts it (letters, digits, `_`, `.` and `-`).
type Pymco::Identity = Pattern[/\A[\w.\-]+\z/]
