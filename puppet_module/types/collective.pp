# @summary A collective name: it becomes part of the broker's exchange names
#   (`<collective>_broadcast`, `<collective>_directed`), so only letters, digits and `_`.
type Pymco::Collective = Pattern[/\A[A-Za-z0-9_]+\z/]
