"""What a fit returns, and how it is read, saved, drawn and shown.

`result.Result` (one spectrum), `joint.JointResult` (a set), `map.MapResult` (a map or
series); their files (`savefile`, `netcdf`), text (`report`), plots and HTML pages.
"""
