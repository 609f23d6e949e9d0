# nbgrader's configuration for this course (the repository root is an nbgrader course directory).
c = get_config()  # noqa: F821 (nbgrader provides get_config)
c.CourseDirectory.course_id = "MATE70026"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
# What a student sees where the reference solution was. A bare comment (not nbgrader's default
# `raise NotImplementedError()`) keeps "Run all" going: an unwritten function returns None and the
# locked protocol cell then says which function to write.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
