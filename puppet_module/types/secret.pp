# @summary A secret: a plain string (e.g. from Hiera eyaml) or, better, Sensitive.
type Pymco::Secret = Variant[Sensitive[Pattern[/\A[^\r\n]+\z/]], Pattern[/\A[^\r\n]+\z/]]
